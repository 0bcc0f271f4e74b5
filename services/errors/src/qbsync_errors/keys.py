"""API keys of the errors API: scoped to one tenant, or to every tenant (operators).

The scheme every service shares lives in `qbsync_core.apikeys`; the keys are stored in
this service's own `api_keys` table.
"""

from qbsync_core.apikeys import ApiKey, NewApiKey, create_api_key, key_for_token, revoke_api_key

__all__ = ["ApiKey", "NewApiKey", "create_api_key", "key_for_token", "revoke_api_key"]
