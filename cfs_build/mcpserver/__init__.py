"""`cfs mcp`: the tools served over MCP and the project kept warm between requests."""
