from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import AwareDatetime

from central_system.api.auth import DENIED, Admin, Operate, Read
from central_system.api.deps import Sites
from central_system.api.schemas import PolicyChange, PricePublic, SiteCreate, SitePublic
from central_system.errors import NotFound
from central_system.smart_charging.policies import require_policy

router = APIRouter(prefix="/sites", tags=["sites"], responses=DENIED)


@router.get("", response_model=list[SitePublic], dependencies=[Read])
async def list_sites(sites: Sites):
    return [SitePublic.of(site) for site in await sites.list_sites()]


@router.put(
    "/{site_id}", response_model=SitePublic, dependencies=[Admin], responses={400: {}, 422: {}}
)
async def put_site(
    site_id: Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9._-]+$")],
    body: SiteCreate,
    sites: Sites,
):
    """Set up a site (or replace it): it is load-managed, and priced if it has a tariff, from
    now on. Its live signals (PV, day-ahead prices, emissions) are not set over the API."""
    require_policy(body.policy)  # before anything is stored
    return SitePublic.of(await sites.add_site(body.to_domain(site_id)))


@router.put(
    "/{site_id}/policy",
    response_model=SitePublic,
    dependencies=[Operate],
    responses={400: {}, 404: {}},
)
async def put_policy(site_id: str, body: PolicyChange, sites: Sites):
    """Switch the site's load-management policy; it re-plans at once."""
    site = await sites.set_site_policy(site_id, body.policy)
    if site is None:
        raise NotFound(f"site {site_id!r} does not exist", site_id=site_id)
    return SitePublic.of(site)


@router.get(
    "/{site_id}/prices",
    response_model=list[PricePublic],
    dependencies=[Read],
    responses={404: {}},
)
async def get_prices(site_id: str, start: AwareDatetime, end: AwareDatetime, sites: Sites):
    """The prices the site published over [start, end)."""
    if site_id not in {site.site_id for site in await sites.list_sites()}:
        raise NotFound(f"site {site_id!r} does not exist", site_id=site_id)
    return [PricePublic.of(p) for p in await sites.published_prices(site_id, start, end)]
