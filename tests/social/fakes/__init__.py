"""Local fakes of the social platforms: real HTTP servers on loopback, following each platform's
documented API (auth, paths, error shapes) closely enough to test the channels against, with
scripted failures (5xx, 429 with Retry-After, slow answers) and de-duplication made visible."""
