"""The gateway's web pages for people who never touch the API: server-rendered Jinja2 templates and
the gateway's own stylesheet, on the API's port (`pages.install`)."""
