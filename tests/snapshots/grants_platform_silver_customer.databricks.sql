-- platform.silver_customer 1.0.0: access policy version 1, Unity Catalog (mesh grants --dialect databricks)
-- platform (data-platform) owns it; another domain reads it only with an approved subscription, and no one else is granted anything.
GRANT USE CATALOG ON CATALOG mesh TO `data-platform`;
GRANT USE SCHEMA ON SCHEMA mesh.platform TO `data-platform`;
GRANT SELECT, MODIFY ON TABLE mesh.platform.silver_customer TO `data-platform`;
-- finance (finance-analytics): approved subscription 2, scoped to c_custkey, c_name, c_nationkey: reads a view of those columns only (the table's column masks apply through it)
REVOKE ALL PRIVILEGES ON TABLE mesh.platform.silver_customer FROM `finance-analytics`;
CREATE OR REPLACE VIEW mesh.platform.silver_customer__finance AS SELECT c_custkey, c_name, c_nationkey FROM mesh.platform.silver_customer;
GRANT USE CATALOG ON CATALOG mesh TO `finance-analytics`;
GRANT USE SCHEMA ON SCHEMA mesh.platform TO `finance-analytics`;
GRANT SELECT ON VIEW mesh.platform.silver_customer__finance TO `finance-analytics`;
-- marketing (marketing-analytics): nothing granted: no approved subscription (subscription 3 is revoked)
REVOKE ALL PRIVILEGES ON TABLE mesh.platform.silver_customer FROM `marketing-analytics`;
DROP VIEW IF EXISTS mesh.platform.silver_customer__marketing;
-- sales (sales-analytics): approved subscription 1: reads it (SELECT)
GRANT USE CATALOG ON CATALOG mesh TO `sales-analytics`;
GRANT USE SCHEMA ON SCHEMA mesh.platform TO `sales-analytics`;
GRANT SELECT ON TABLE mesh.platform.silver_customer TO `sales-analytics`;
DROP VIEW IF EXISTS mesh.platform.silver_customer__sales;
-- c_name: tag 'pii': clear for clearance 'pii'; anyone else sees NULL
CREATE OR REPLACE FUNCTION mesh.platform.silver_customer_c_name_mask(value STRING)
  RETURNS STRING
  RETURN CASE
    WHEN is_account_group_member('data-platform') OR is_account_group_member('sales-analytics') THEN value
    WHEN is_account_group_member('finance-analytics') THEN concat(left(value, 1), '***')
    ELSE CAST(NULL AS STRING)
  END;
ALTER TABLE mesh.platform.silver_customer ALTER COLUMN c_name SET MASK mesh.platform.silver_customer_c_name_mask;
-- c_address: tag 'pii': clear for clearance 'pii'; anyone else sees NULL
CREATE OR REPLACE FUNCTION mesh.platform.silver_customer_c_address_mask(value STRING)
  RETURNS STRING
  RETURN CASE
    WHEN is_account_group_member('data-platform') OR is_account_group_member('sales-analytics') THEN value
    ELSE CAST(NULL AS STRING)
  END;
ALTER TABLE mesh.platform.silver_customer ALTER COLUMN c_address SET MASK mesh.platform.silver_customer_c_address_mask;
-- c_phone: tag 'pii': clear for clearance 'pii'; anyone else sees NULL
CREATE OR REPLACE FUNCTION mesh.platform.silver_customer_c_phone_mask(value STRING)
  RETURNS STRING
  RETURN CASE
    WHEN is_account_group_member('data-platform') OR is_account_group_member('sales-analytics') THEN value
    ELSE CAST(NULL AS STRING)
  END;
ALTER TABLE mesh.platform.silver_customer ALTER COLUMN c_phone SET MASK mesh.platform.silver_customer_c_phone_mask;
