-- Back-sync is opt-in per tenant (SET-6, SET-7): QBO is read back, by the CDC poll or a
-- webhook notice, only for a tenant that turned it on (PUT /v1/tenants/{t}/backsync).
-- Connections made before this migration keep it off, as the requirement's default.
ALTER TABLE connections ADD COLUMN backsync boolean NOT NULL DEFAULT false;
