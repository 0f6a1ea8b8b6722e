"""Redis keys shared by the gateway process and the services that the worker and web call."""

# Written by the worker while a learner's run is active: JSON {"user_id", "course_id",
# "expires_at"} (expires_at in Unix seconds), with a Redis TTL that ends at expires_at.
GRANT_KEY = "gateway:grant:uid:{uid}"
# Tokens used by a person today (UTC), for the daily quota.
DAILY_TOKENS_KEY = "gateway:tokens:{user_id}:{day}"
# Requests by a person in the current minute, for the rate limit.
RATE_KEY = "gateway:rate:{user_id}:{minute}"
# Usage not yet written to the database: hash "day|user|course|model|counter" -> count.
USAGE_KEY = "gateway:usage"
USAGE_FLUSHING_PREFIX = "gateway:usage:flushing:"
