"""The consortium's directory: departments, catalog types, and departments' catalog snapshots."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response

from gateway.api.certificates import pending, settled
from gateway.api.views import (CatalogTypesView, CatalogTypeView, DepartmentsView, DepartmentView, OperationView,
                               ServiceItemsPage, ServiceItemView, SnapshotsView, SnapshotView)
from gateway.api.deps import (Cursor, DepartmentPath, HandlerFilter, IdempotencyKey, Member, ServiceItemPath,
                              Services, issuing)
from gateway.certificates.catalog import lookup
from gateway.models import SnapshotRequest
from gateway.provenance import MAX_PAGE
from ledger_node.chainstate import code_text
from ledger_node.types import Role, TypeStatus, code32

router = APIRouter(prefix="/v1")


@router.get("/departments", summary="The consortium's departments, their roles, status and keys (public)")
def departments(gateway: Services) -> DepartmentsView:
    return DepartmentsView(departments=[
        DepartmentView(code=d.code, name=d.name, status=d.status.name.lower(),
                       roles=[role.name.lower() for role in Role if d.roles & role], keys=list(d.keys))
        for d in gateway.chain.departments()])


@router.get("/catalog/types", summary="Certificate types in the catalog (public)")
def catalog_types(gateway: Services) -> CatalogTypesView:
    catalog = gateway.chain.deployment.catalog.functions
    types = []
    for type_id in range(1, catalog.typeCount().call() + 1):
        code, _id, owner, version, status, registered_at, schema_hash = \
            catalog.certificateType(catalog.typeCode(type_id).call()).call()
        types.append(CatalogTypeView(code=code_text(code), name=gateway.chain_state.type_name(code_text(code)),
                                     owner=code_text(owner), version=version,
                                     status=TypeStatus(status).name.lower(), registered_at=registered_at,
                                     schema_hash="0x" + schema_hash.hex()))
    return CatalogTypesView(types=types)


@router.get("/catalog/service-items", summary="Service items (办件事项): what each needs and who handles it (public)",
            description="Read from the event index; a page may hold fewer items than `limit` when `handler` "
                        "filters, follow `next` to the end.")
def service_items(gateway: Services, handler: HandlerFilter, cursor: Cursor = None,
                  limit: int = Query(100, ge=1, le=MAX_PAGE)) -> ServiceItemsPage:
    added = gateway.provenance.service_item_handlers()
    page = gateway.provenance.events(None, action="ServiceItemRegistered", cursor=cursor, limit=limit)
    items = [ServiceItemView(code=e["args"]["serviceItem"], name=e["args"]["name"], owner=e["department"],
                             handlers=[e["department"], *added.get(e["args"]["serviceItem"], [])],
                             required_types=e["args"]["requiredTypes"]) for e in page["events"]]
    return ServiceItemsPage(service_items=[item for item in items if handler is None or handler in item.handlers],
                            next=page["next"])


@router.get("/catalog/service-items/{code}", summary="One service item, as the catalog has it now (public)")
def service_item(code: ServiceItemPath, gateway: Services) -> ServiceItemView:
    item = gateway.sharing.service_item(code)
    return ServiceItemView(code=item.code, owner=item.owner,
                           handlers=[item.owner, *gateway.provenance.service_item_handlers().get(code, [])],
                           required_types=list(item.required_types))


@router.get("/catalog/snapshots/{department}", summary="A department's anchored catalog snapshots (public)")
def snapshots(department: DepartmentPath, gateway: Services) -> SnapshotsView:
    catalog = gateway.chain.deployment.catalog.functions
    code = code32(gateway.chain.department(department).code)
    count = lookup(catalog.snapshotCount(code), f"no department {department!r}")
    versions = []
    for version in range(1, count + 1):
        content_hash, anchored_at, anchored_block, uri = catalog.snapshot(code, version).call()
        versions.append(SnapshotView(version=version, content_hash="0x" + content_hash.hex(), anchored_at=anchored_at,
                                     anchored_block=anchored_block, uri=uri))
    return SnapshotsView(department=department, snapshots=versions)


@router.post("/catalog/snapshots", status_code=201, summary="Anchor the caller's data catalog snapshot",
             responses=pending(OperationView))
async def publish_snapshot(body: SnapshotRequest, caller: Member, gateway: Services, response: Response,
                           idempotency_key: IdempotencyKey = None) -> OperationView:
    operation = await issuing(gateway.issuance.publish_snapshot, caller, body, idempotency_key)
    return OperationView.of(await settled(gateway, operation, response, created=201))
