"""CRM data concerns shared by the REST API, the CRM tasks of Deluge and workflow rules.

``criteria`` parses Zoho's search criteria (zoho-rest-compat.md §6) into a small immutable tree
that can be evaluated in memory or compiled to SQL.
"""
