"""A module written for fastmcp, unchanged but the import, for test_fastmcp_context.py: its tools log, ask
the user, ask the client's model and read the client's roots through `ctx`, served hosted (sandboxed)."""

from dataclasses import dataclass

from sandgate import Context, FastMCP  # was: from fastmcp import Context, FastMCP

mcp = FastMCP("fastmcp-context")


@dataclass
class Trip:
    city: str
    nights: int


@mcp.tool
async def plan_trip(ctx: Context) -> str:
    """Plan a trip with the user and the client's model."""
    await ctx.info("planning started", extra={"step": 1})
    trip = await ctx.elicit("Where to, and for how long?", Trip)
    if trip.action != "accept":
        await ctx.warning(f"user chose {trip.action}")
        return f"no trip ({trip.action})"
    idea = await ctx.sample(f"One sight in {trip.data.city}", max_tokens=30)
    roots = await ctx.list_roots()
    await ctx.info("planning done")
    return f"{trip.data.nights} nights in {trip.data.city}: {idea.text} (notes in {roots[0].uri})"
