-- Whether user %(user_id)s's own address (users.email, now) is verified: the
-- one rule (accounts.selectors.email_is_verified, and the upload's caller
-- read). allauth's account_emailaddress is the one record of it (sign-up
-- confirmations, providers that vouch for the address, operators, seed_demo,
-- Supabase's confirmations synced by trigger). Compared lowercased on both
-- sides: allauth stores addresses lowercased, users.email keeps the local
-- part as typed. An expression, both dialects.
EXISTS (
    SELECT 1
    FROM account_emailaddress AS address
    JOIN users AS owner ON owner.id = address.user_id
    WHERE address.user_id = %(user_id)s
      AND address.verified
      AND lower(address.email) = lower(owner.email)
)
