-- Open a new user's account: the default plan, its credits as the opening
-- grant (the rule is written once, in sql/functions/account_open.sql).
SELECT plan_key, subscription_created, balance_opened
FROM public.versatools_account_open(%(user_id)s::uuid)
