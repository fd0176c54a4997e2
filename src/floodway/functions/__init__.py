"""The functions platform around the Deluge engine: outbound HTTP, hosts, connections, jobs.

``address_policy`` decides which destinations outbound requests may reach (security.md NET-2,
NET-4, NET-5); ``outbound`` is the one HTTP client that opens such connections (NET-1, NET-3,
NET-6 to NET-9).
"""
