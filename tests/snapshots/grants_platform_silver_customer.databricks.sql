-- platform.silver_customer 1.0.0: access policy version 1, Unity Catalog (mesh grants --dialect databricks)
-- platform (data-platform) owns it; other domains read it only.
GRANT USE CATALOG ON CATALOG mesh TO `data-platform`;
GRANT USE SCHEMA ON SCHEMA mesh.platform TO `data-platform`;
GRANT SELECT, MODIFY ON TABLE mesh.platform.silver_customer TO `data-platform`;
GRANT USE CATALOG ON CATALOG mesh TO `finance-analytics`;
GRANT USE SCHEMA ON SCHEMA mesh.platform TO `finance-analytics`;
GRANT SELECT ON TABLE mesh.platform.silver_customer TO `finance-analytics`;
GRANT USE CATALOG ON CATALOG mesh TO `marketing-analytics`;
GRANT USE SCHEMA ON SCHEMA mesh.platform TO `marketing-analytics`;
GRANT SELECT ON TABLE mesh.platform.silver_customer TO `marketing-analytics`;
GRANT USE CATALOG ON CATALOG mesh TO `sales-analytics`;
GRANT USE SCHEMA ON SCHEMA mesh.platform TO `sales-analytics`;
GRANT SELECT ON TABLE mesh.platform.silver_customer TO `sales-analytics`;
-- c_name: tag 'pii': clear for clearance 'pii'; anyone else sees NULL
CREATE OR REPLACE FUNCTION mesh.platform.silver_customer_c_name_mask(value STRING)
  RETURNS STRING
  RETURN CASE
    WHEN is_account_group_member('marketing-analytics') OR is_account_group_member('data-platform') OR is_account_group_member('sales-analytics') THEN value
    WHEN is_account_group_member('finance-analytics') THEN concat(left(value, 1), '***')
    ELSE CAST(NULL AS STRING)
  END;
ALTER TABLE mesh.platform.silver_customer ALTER COLUMN c_name SET MASK mesh.platform.silver_customer_c_name_mask;
-- c_address: tag 'pii': clear for clearance 'pii'; anyone else sees NULL
CREATE OR REPLACE FUNCTION mesh.platform.silver_customer_c_address_mask(value STRING)
  RETURNS STRING
  RETURN CASE
    WHEN is_account_group_member('marketing-analytics') OR is_account_group_member('data-platform') OR is_account_group_member('sales-analytics') THEN value
    WHEN is_account_group_member('finance-analytics') THEN concat(left(value, 1), '***')
    ELSE CAST(NULL AS STRING)
  END;
ALTER TABLE mesh.platform.silver_customer ALTER COLUMN c_address SET MASK mesh.platform.silver_customer_c_address_mask;
-- c_phone: tag 'pii': clear for clearance 'pii'; anyone else sees NULL
CREATE OR REPLACE FUNCTION mesh.platform.silver_customer_c_phone_mask(value STRING)
  RETURNS STRING
  RETURN CASE
    WHEN is_account_group_member('marketing-analytics') OR is_account_group_member('data-platform') OR is_account_group_member('sales-analytics') THEN value
    WHEN is_account_group_member('finance-analytics') THEN concat(left(value, 1), '***')
    ELSE CAST(NULL AS STRING)
  END;
ALTER TABLE mesh.platform.silver_customer ALTER COLUMN c_phone SET MASK mesh.platform.silver_customer_c_phone_mask;
