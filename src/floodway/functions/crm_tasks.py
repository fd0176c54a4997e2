"""``zoho.crm.*`` tasks on the real store: each task of deluge-language.md §12 mapped onto
``crm.records`` / ``crm.metadata`` as the run-as user, channel ``function`` (conversions and
argument rules in ``crm_bridge``)."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from floodway.deluge.values import (
    DelugeList,
    DelugeMap,
    File,
    text_form,
    to_json_text,
)

from .crm_bridge import (
    MAX_PER_PAGE,
    MSG_INVALID_ID,
    TaskFail,
    error_map,
    fields_param,
    from_plain,
    id_arg,
    int_arg,
    invalid_id_map,
    invalid_module_map,
    invalid_relation_map,
    not_supported_map,
    options_arg,
    query_get,
    record_arg,
    record_input,
    resolve_task,
    rows_arg,
    success_map,
    type_error,
    unwrap,
    wants_workflow,
)

if TYPE_CHECKING:
    from floodway.crm.service import Crm
    from floodway.crm.standard import ModuleDef


# --------------------------------------------------------------------------------------------
# The tasks on the real store


@dataclass(frozen=True, slots=True)
class Attachment:
    """An attachment as the host stores it (``StoreTasks`` reads and writes through this)."""

    id: str
    record_id: str
    module: str
    file_name: str
    size: int
    content_type: str
    owner_id: str
    created_by: str
    modified_by: str
    created_time: int
    modified_time: int


class AttachmentStore:
    """Where ``attachFile`` keeps files (the CRM has no attachment storage yet)."""

    def add(self, module: str, record_id: str, file: File, user_id: str) -> Attachment:
        raise NotImplementedError

    def list(self, record_id: str) -> list[Attachment]:
        raise NotImplementedError


class StoreTasks:
    """``zoho.crm.*`` on the real store, as ``user_id`` (channel ``function``).

    ``variables`` is the org-variable store (``get(name)``, ``set(name, value)``),
    ``attachments`` the attachment store, ``zapikey`` a callable giving the org API key.
    """

    def __init__(
        self,
        crm: Crm,
        user_id: str,
        *,
        month_first: bool = True,
        variables: Any = None,
        attachments: AttachmentStore | None = None,
        zapikey: Callable[[], str | None] | None = None,
        convert_lead: Callable[..., DelugeMap] | None = None,
        chain: tuple[str, int] | None = None,
    ) -> None:
        self.crm = crm
        self.user_id = user_id
        self.chain = chain  # the execution's causal chain, carried by every write (§5)
        self.tz = crm.tz
        self.month_first = month_first
        self.variables = variables
        self.attachments = attachments
        self.zapikey = zapikey
        self._convert_lead = convert_lead
        self.notes: list[str] = []  # error maps returned, for the execution record (§12.7)

    # ------------------------------------------------------------------ dispatch

    def crm_task(self, task: str, args: list[Any]) -> Any:
        from floodway.crm.errors import CrmError

        name, canonical = resolve_task(task, len(args))
        method = getattr(self, "_t_" + name)
        try:
            result = method(canonical, *args)
        except TaskFail as fail:
            result = fail.error
        except CrmError as exc:
            result = from_plain(exc.to_json())
        if type(result) is DelugeMap and result.get("status") == "error":
            self._note(canonical, result)
        elif type(result) is DelugeList:
            for item in result:
                if type(item) is DelugeMap and item.get("status") == "error":
                    self._note(canonical, item)
        return result

    def _note(self, canonical: str, error: DelugeMap) -> None:
        if len(self.notes) < 1000:
            self.notes.append(
                f"zoho.crm.{canonical}: {text_form(error.get('code'))} "
                f"{text_form(error.get('message'))}"
            )

    def _actor(self, workflow: bool) -> Any:
        from floodway.crm.service import Actor

        return Actor(self.user_id, "function", workflow, self.chain)

    def _module_arg(self, task: str, pos: int, value: Any) -> ModuleDef:
        if type(value) is not str:
            raise type_error(task, pos, "TEXT", value)
        mod = self.crm.metadata.find(value)
        if mod is None:
            raise TaskFail(invalid_module_map())
        return mod

    def _input(self, mod: ModuleDef, values: Mapping[Any, Any]) -> dict[str, Any]:
        return record_input(mod, values, self.tz, self.month_first)

    @staticmethod
    def _details(res: Mapping[str, Any]) -> DelugeMap:
        details = {k: v for k, v in res["details"].items() if k != "$approval_state"}
        return from_plain(details)  # type: ignore[no-any-return]

    def _row(self, res: dict[str, Any], rid: str | None = None) -> DelugeMap:
        """A single-row write result: the details map, or the error map (§12.4)."""
        if res.get("status") == "success":
            return self._details(res)
        if rid is not None and _is_bad_id(res):
            raise TaskFail(invalid_id_map(rid))
        raise TaskFail(from_plain(res))

    def _item(self, res: dict[str, Any]) -> DelugeMap:
        """A bulk result item: success with its details, or the row's error."""
        if res.get("status") == "success":
            return success_map(self._details(res), str(res.get("message")))
        return from_plain(res)  # type: ignore[no-any-return]

    def _listing_args(
        self, mod: ModuleDef, page: int, per_page: int, q: Mapping[str, Any]
    ) -> dict[str, Any]:
        sort_by = query_get(q, "sort_by")
        sort_text = text_form(sort_by).strip() if sort_by not in (None, "") else None
        if sort_text is not None and sort_text.lower() not in (
            "id",
            "created_time",
            "modified_time",
        ):
            f = mod.field(sort_text)
            if f is None or f.type in ("lookup", "parent", "multiselectpicklist"):
                sort_text = None  # unknown sort fields fall back to id order
        order = text_form(query_get(q, "sort_order") or "desc").strip().lower()
        return {
            "fields": fields_param(q),
            "page": max(page, 1),
            "per_page": min(max(per_page, 1), MAX_PER_PAGE),
            "sort_by": sort_text,
            "sort_order": "asc" if order == "asc" else "desc",
        }

    @staticmethod
    def _converted(q: Mapping[str, Any]) -> str | None:
        conv = query_get(q, "converted")
        return None if conv is None else text_form(conv).strip().lower()

    # ------------------------------------------------------------------ reads

    def _t_getrecordbyid(
        self, task: str, module: Any, rid: Any, query: Any = None, _c: Any = None
    ) -> Any:
        mod = self._module_arg(task, 1, module)
        record_id = id_arg(task, 2, rid)
        q = options_arg(task, 3, query)
        rec = self.crm.records.get(mod.api_name, record_id, fields=fields_param(q))
        if rec is None:
            return invalid_id_map(record_id)
        return from_plain(rec)

    def _t_getrecords(
        self,
        task: str,
        module: Any,
        page: Any = 1,
        per_page: Any = MAX_PER_PAGE,
        query: Any = None,
        _c: Any = None,
    ) -> Any:
        mod = self._module_arg(task, 1, module)
        p = int_arg(task, 2, page, 1)
        pp = int_arg(task, 3, per_page, MAX_PER_PAGE)
        q = options_arg(task, 4, query)
        result = self.crm.records.list(
            mod.api_name, converted=self._converted(q), **self._listing_args(mod, p, pp, q)
        )
        return from_plain(result.data)

    def _t_searchrecords(
        self,
        task: str,
        module: Any,
        criteria: Any,
        page: Any = 1,
        per_page: Any = MAX_PER_PAGE,
        query: Any = None,
        _c: Any = None,
    ) -> Any:
        from floodway.crm.errors import CrmError

        mod = self._module_arg(task, 1, module)
        if type(criteria) is not str:
            raise type_error(task, 2, "TEXT", criteria)
        p = int_arg(task, 3, page, 1)
        pp = int_arg(task, 4, per_page, MAX_PER_PAGE)
        q = options_arg(task, 5, query)  # TEXT fifth argument is ignored (D-66)
        if not criteria.strip():
            return error_map(
                "INVALID_QUERY", {"reason": "the criteria is empty"}, "invalid query formed"
            )
        try:
            result = self.crm.records.search(
                mod.api_name,
                criteria=criteria,
                converted=self._converted(q),
                **self._listing_args(mod, p, pp, q),
            )
        except CrmError as exc:
            if exc.code == "LIMIT_REACHED":
                return DelugeList()  # pages beyond the 2,000 reachable matches are empty
            raise
        return from_plain(result.data)

    # ------------------------------------------------------------------ writes

    def _t_createrecord(
        self, task: str, module: Any, values: Any, options: Any = None, _c: Any = None
    ) -> Any:
        mod = self._module_arg(task, 1, module)
        data = record_arg(task, 2, values)
        opts = options_arg(task, 3, options)
        res = self.crm.records.create(
            mod.api_name, [self._input(mod, data)], actor=self._actor(wants_workflow(opts))
        )
        return self._row(res[0])

    def _t_updaterecord(
        self, task: str, module: Any, rid: Any, values: Any, options: Any = None, _c: Any = None
    ) -> Any:
        mod = self._module_arg(task, 1, module)
        record_id = id_arg(task, 2, rid)
        data = record_arg(task, 3, values)
        opts = options_arg(task, 4, options)
        row = self._input(mod, data)
        row.pop("id", None)
        res = self.crm.records.update(
            mod.api_name,
            [row],
            actor=self._actor(wants_workflow(opts)),
            record_id=record_id,
        )
        return self._row(res[0], record_id)

    def _t_upsert(
        self, task: str, module: Any, values: Any, options: Any = None, _c: Any = None
    ) -> Any:
        mod = self._module_arg(task, 1, module)
        data = record_arg(task, 2, values)
        opts = options_arg(task, 3, options)
        row = self._input(mod, data)
        rid: str | None = None
        id_key = next((k for k in row if k.lower() == "id"), None)
        if id_key is not None:
            raw = data.get(id_key)
            if raw is None:
                row.pop(id_key)
            else:
                rid = id_arg(task, 2, raw)
                row.pop(id_key)
                row["id"] = rid
        dup = unwrap(query_get(opts, "duplicate_check_fields"))
        names: list[str] | None = None
        if type(dup) is DelugeList:
            names = [text_form(x) for x in dup]
        elif type(dup) is str:
            names = [x.strip() for x in dup.split(",") if x.strip()]
        res = self.crm.records.upsert(
            mod.api_name,
            [row],
            actor=self._actor(wants_workflow(opts)),
            duplicate_check_fields=names,
        )[0]
        out = self._row(res, rid)
        out.update(action=res.get("action"), duplicate_field=res.get("duplicate_field"))
        return out

    def _t_bulkcreate(
        self, task: str, module: Any, rows: Any, options: Any = None, _c: Any = None
    ) -> Any:
        return self._bulk(task, module, rows, options, self.crm.records.create)

    def _t_bulkupdate(
        self, task: str, module: Any, rows: Any, options: Any = None, _c: Any = None
    ) -> Any:
        return self._bulk(task, module, rows, options, self.crm.records.update)

    def _bulk(
        self, task: str, module: Any, rows: Any, options: Any, write: Callable[..., Any]
    ) -> Any:
        """bulkCreate / bulkUpdate: one result item per row, in order (D-78)."""
        mod = self._module_arg(task, 1, module)
        data = rows_arg(task, rows)
        workflow = wants_workflow(options_arg(task, 3, options))
        if not data:
            return DelugeList()
        res = write(mod.api_name, [self._input(mod, r) for r in data], actor=self._actor(workflow))
        return DelugeList(self._item(r) for r in res)

    # ------------------------------------------------------------------ relations

    def _relation(self, task: str, name: Any, parent: ModuleDef) -> Any:
        from floodway.crm.errors import CrmError

        if type(name) is not str:
            raise type_error(task, 1, "TEXT", name)
        try:
            return self.crm.metadata.related_list(parent, name.strip())
        except CrmError:
            raise TaskFail(invalid_relation_map(name)) from None

    def _exists(self, mod: ModuleDef, rid: str) -> bool:
        return self.crm.records.get(mod.api_name, rid, fields=["id"]) is not None

    def _t_getrelatedrecords(
        self,
        task: str,
        relation: Any,
        module: Any,
        pid: Any,
        page: Any = 1,
        per_page: Any = MAX_PER_PAGE,
        query: Any = None,
        _c: Any = None,
    ) -> Any:
        parent = self._module_arg(task, 2, module)
        parent_id = id_arg(task, 3, pid)
        rel = self._relation(task, relation, parent)
        p = int_arg(task, 4, page, 1)
        pp = int_arg(task, 5, per_page, MAX_PER_PAGE)
        q = options_arg(task, 6, query)
        if rel.kind == "attachments":
            if self.attachments is None or not self._exists(parent, parent_id):
                return DelugeList()
            size = min(max(pp, 1), MAX_PER_PAGE)
            start = (max(p, 1) - 1) * size
            atts = self.attachments.list(parent_id)[start : start + size]
            return DelugeList(self._attachment_map(a) for a in atts)
        child = self.crm.metadata.find(rel.child)
        args = self._listing_args(child or parent, p, pp, q)
        result = self.crm.records.related(parent.api_name, parent_id, rel.api_name, **args)
        if result is None:
            return DelugeList()
        return from_plain(result.data)

    def _t_updaterelatedrecord(
        self,
        task: str,
        relation: Any,
        related_id: Any,
        module: Any,
        pid: Any,
        data: Any = None,
        _c: Any = None,
    ) -> Any:
        parent = self._module_arg(task, 3, module)
        rid = id_arg(task, 2, related_id)
        parent_id = id_arg(task, 4, pid)
        rel = self._relation(task, relation, parent)
        values = options_arg(task, 5, data)
        if not self._exists(parent, parent_id):
            return invalid_id_map(parent_id)
        if rel.kind not in ("lookup", "activities"):
            return not_supported_map()
        child = self.crm.metadata.find(rel.child)
        if child is None or not self._exists(child, rid):
            return invalid_id_map(rid)
        row = self._input(child, values)
        row.pop("id", None)
        row["id"] = rid
        res = self.crm.records.link(
            parent.api_name, parent_id, rel.api_name, [row], actor=self._actor(False)
        )[0]
        if res.get("status") == "success":
            return success_map(DelugeMap(id=rid), "relation added")
        if _is_bad_id(res):
            return invalid_id_map(rid)
        return from_plain(res)

    def _user_brief(self, uid: str, email: bool = True) -> DelugeMap:
        user = self.crm.users.get(uid)
        out = DelugeMap(name=user.full_name if user else None, id=uid)
        if email:
            out["email"] = user.email if user else None
        return out

    def _iso(self, ms: int) -> str:
        return _dt.datetime.fromtimestamp(ms / 1000, self.tz).isoformat(timespec="seconds")

    def _attachment_map(self, a: Attachment) -> DelugeMap:
        mod = self.crm.metadata.find(a.module)
        name = None
        if mod is not None:
            parent = self.crm.records.get(a.module, a.record_id, fields=[mod.name_field])
            name = parent.get(mod.name_field) if parent else None
        return DelugeMap(
            Owner=self._user_brief(a.owner_id),
            File_Name=a.file_name,
            Size=str(a.size),
            Parent_Id=DelugeMap(name=name, id=a.record_id),
            **{"$se_module": a.module},
            Created_By=self._user_brief(a.created_by),
            Modified_By=self._user_brief(a.modified_by),
            Created_Time=self._iso(a.created_time),
            Modified_Time=self._iso(a.modified_time),
            id=a.id,
        )

    def _t_attachfile(self, task: str, module: Any, rid: Any, file: Any, _c: Any = None) -> Any:
        mod = self._module_arg(task, 1, module)
        record_id = id_arg(task, 2, rid)
        if type(file) is not File:
            raise type_error(task, 3, "FILE", file)
        if self.attachments is None:
            return not_supported_map()
        if not self._exists(mod, record_id):
            return invalid_id_map(record_id)
        a = self.attachments.add(mod.api_name, record_id, file, self.user_id)
        details = DelugeMap(
            Modified_Time=self._iso(a.modified_time),
            Modified_By=self._user_brief(a.modified_by, email=False),
            Created_Time=self._iso(a.created_time),
            id=a.id,
            Created_By=self._user_brief(a.created_by, email=False),
        )
        return success_map(details, "attachment uploaded")

    # ------------------------------------------------------------------ other tasks

    def _t_convertlead(self, task: str, lead_id: Any, values: Any = None, _c: Any = None) -> Any:
        rid = id_arg(task, 1, lead_id)
        opts = options_arg(task, 2, values)
        if self._convert_lead is None:
            return not_supported_map()
        return self._convert_lead(self, rid, opts)

    def _t_getorgvariable(self, task: str, name: Any, _c: Any = None) -> Any:
        if type(name) is not str:
            raise type_error(task, 1, "TEXT", name)
        if self.variables is None:
            return None
        return self.variables.get(name)

    def _t_invokeconnector(self, task: str, operation: Any, params: Any) -> Any:
        if type(operation) is not str:
            raise type_error(task, 1, "TEXT", operation)
        p = record_arg(task, 2, params)
        op = operation.strip().lower()
        if op == "crm.zapikey":
            key = self.zapikey() if self.zapikey is not None else None
            return DelugeMap(status_code="200", response=key or "")
        if op not in ("crm.set", "crm.get") or self.variables is None:
            return not_supported_map()
        api = query_get(p, "apiname")
        if type(api) is not str or not api:
            return DelugeMap(
                status_code="400",
                response=to_json_text(DelugeMap(message="apiname is missing")),
            )
        if op == "crm.set":
            value = query_get(p, "value")
            text = "" if value is None else text_form(value)
            self.variables.set(api, text)
            body = DelugeMap({api: text})
            body["message"] = "New value updated successfully."
        else:
            body = DelugeMap({api: self.variables.get(api)})
        return DelugeMap(status_code="200", response=to_json_text(body))

    def _t_raisesignal(self, task: str, signal: Any, _c: Any = None) -> Any:
        return not_supported_map()


def _is_bad_id(res: Mapping[str, Any]) -> bool:
    details = res.get("details") or {}
    return (
        res.get("code") == "INVALID_DATA"
        and isinstance(details, Mapping)
        and details.get("api_name") == "id"
        and res.get("message") == MSG_INVALID_ID
    )
