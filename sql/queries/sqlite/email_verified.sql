-- See fragments/email_verified.sql: the rule is written once, in SQL both dialects read.
SELECT
-- @include queries/fragments/email_verified
AS verified
