from __future__ import annotations

from fastapi import APIRouter
from pydantic import AwareDatetime

from central_system.api.deps import Sites
from central_system.api.schemas import PolicyChange, PricePublic, SitePublic
from central_system.errors import NotFound

router = APIRouter(prefix="/sites", tags=["sites"])


@router.get("", response_model=list[SitePublic])
async def list_sites(sites: Sites):
    return [SitePublic.of(site) for site in await sites.list_sites()]


@router.put("/{site_id}/policy", response_model=SitePublic, responses={400: {}, 404: {}})
async def put_policy(site_id: str, body: PolicyChange, sites: Sites):
    """Switch the site's load-management policy; it re-plans at once."""
    site = await sites.set_site_policy(site_id, body.policy)
    if site is None:
        raise NotFound(f"site {site_id!r} does not exist", site_id=site_id)
    return SitePublic.of(site)


@router.get("/{site_id}/prices", response_model=list[PricePublic], responses={404: {}})
async def get_prices(site_id: str, start: AwareDatetime, end: AwareDatetime, sites: Sites):
    """The prices the site published over [start, end)."""
    if site_id not in {site.site_id for site in await sites.list_sites()}:
        raise NotFound(f"site {site_id!r} does not exist", site_id=site_id)
    return [PricePublic.of(p) for p in await sites.published_prices(site_id, start, end)]
