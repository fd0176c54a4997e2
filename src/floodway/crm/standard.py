"""Module and field definitions, and the standard modules a new org starts with.

``FieldDef`` / ``ModuleDef`` are the one description of the CRM schema shared by the database
store (``crm.metadata`` seeds and loads them) and the criteria checks. Field types are floodway's
(project-format.md ``[[field]] type``), plus ``parent`` for the polymorphic lookups ``What_Id`` /
``Parent_Id`` that come with ``$se_module``. The standard modules follow zoho-rest-compat.md §12.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

# Types a project manifest may give a field ([[field]] type), in documentation order.
MANIFEST_FIELD_TYPES: Final = (
    "text",
    "textarea",
    "email",
    "phone",
    "url",
    "picklist",
    "multiselectpicklist",
    "date",
    "datetime",
    "integer",
    "bigint",
    "decimal",
    "currency",
    "percent",
    "boolean",
    "lookup",
)
FIELD_TYPES: Final = frozenset(MANIFEST_FIELD_TYPES) | {"parent", "autonumber"}
# Accepted spellings of ``add_field`` types (Zoho's data_type names) -> floodway type.
TYPE_ALIASES: Final = {
    "website": "url",
    "double": "decimal",
    "number": "integer",
    "long": "bigint",
    "checkbox": "boolean",
    "multiselect": "multiselectpicklist",
    "multi_select_picklist": "multiselectpicklist",
}
# floodway type -> (Zoho data_type, json_type) (compat §8.3)
DATA_TYPES: Final = {
    "text": ("text", "string"),
    "textarea": ("textarea", "string"),
    "email": ("email", "string"),
    "phone": ("phone", "string"),
    "url": ("website", "string"),
    "picklist": ("picklist", "string"),
    "multiselectpicklist": ("multiselectpicklist", "jsonarray"),
    "date": ("date", "string"),
    "datetime": ("datetime", "string"),
    "integer": ("integer", "integer"),
    "bigint": ("bigint", "string"),
    "decimal": ("double", "double"),
    "currency": ("currency", "double"),
    "percent": ("percent", "double"),
    "boolean": ("boolean", "boolean"),
    "lookup": ("lookup", "jsonobject"),
    "parent": ("lookup", "jsonobject"),
    "autonumber": ("autonumber", "string"),
    "ownerlookup": ("ownerlookup", "jsonobject"),
}
DEFAULT_LENGTH: Final = {
    "text": 255,
    "textarea": 32_000,
    "email": 100,
    "phone": 30,
    "url": 255,
    "picklist": 120,
    "multiselectpicklist": 2000,
    "autonumber": 255,
    "integer": 9,
    "bigint": 19,
    "decimal": 16,
    "currency": 16,
    "percent": 5,
}
SYSTEM_FIELDS: Final = ("Owner", "Created_By", "Modified_By", "Created_Time", "Modified_Time")


@dataclass(frozen=True, slots=True)
class FieldDef:
    """A module field. ``targets`` are the modules a lookup may point to."""

    api_name: str
    type: str = "text"
    mandatory: bool = False
    targets: tuple[str, ...] = ()
    unique: bool = False
    read_only: bool = False
    min_value: int | None = None
    max_value: int | None = None
    label: str | None = None
    length: int | None = None
    pick_list_values: tuple[str, ...] = ()
    custom: bool = False
    id: str | None = None
    options: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def display_label(self) -> str:
        return self.label or self.api_name.replace("_", " ")

    @property
    def max_length(self) -> int | None:
        if self.length is not None:
            return self.length
        return DEFAULT_LENGTH.get(self.type) if self.type in _LENGTH_CHECKED else None


_LENGTH_CHECKED: Final = frozenset(
    {"text", "textarea", "email", "phone", "url", "picklist", "autonumber"}
)


@dataclass(slots=True)
class ModuleDef:
    api_name: str
    id: str
    fields: dict[str, FieldDef]
    name_field: str
    duplicate_fields: tuple[str, ...]
    singular_label: str | None = None
    plural_label: str | None = None
    custom: bool = False
    sequence_number: int = 0

    def field(self, key: str) -> FieldDef | None:
        f = self.fields.get(key)
        if f is not None:
            return f
        low = key.lower()
        for name, fd in self.fields.items():
            if name.lower() == low:
                return fd
        return None


def _stages() -> tuple[str, ...]:
    return (
        "Qualification",
        "Needs Analysis",
        "Value Proposition",
        "Id. Decision Makers",
        "Perception Analysis",
        "Proposal/Price Quote",
        "Negotiation/Review",
        "Closed Won",
        "Closed Lost",
        "Closed Lost to Competition",
    )


_LEAD_SOURCE: Final = (
    "-None-",
    "Advertisement",
    "Cold Call",
    "Employee Referral",
    "External Referral",
    "Online Store",
    "Partner",
    "Public Relations",
    "Sales Email Alias",
    "Seminar Partner",
    "Internal Seminar",
    "Trade Show",
    "Web Download",
    "Web Research",
    "Chat",
)
_INDUSTRY: Final = (
    "-None-",
    "ASP (Application Service Provider)",
    "Data/Telecom OEM",
    "ERP (Enterprise Resource Planning)",
    "Government/Military",
    "Large Enterprise",
    "ManagementISV",
    "MSP (Management Service Provider)",
    "Network Equipment Enterprise",
    "Non-management ISV",
    "Optical Networking",
    "Service Provider",
    "Small/Medium Enterprise",
    "Storage Equipment",
    "Storage Service Provider",
    "Systems Integrator",
    "Wireless Industry",
)


def standard_modules() -> list[ModuleDef]:
    """The modules a new org starts with (fresh objects; ids are assigned when seeded)."""

    def F(name: str, t: str = "text", **kw: Any) -> FieldDef:
        if "picks" in kw:
            kw["pick_list_values"] = tuple(kw.pop("picks"))
        return FieldDef(name, t, **kw)

    def texts(*names: str) -> list[FieldDef]:
        return [F(n) for n in names]

    salutation = ("-None-", "Mr.", "Mrs.", "Ms.", "Dr.", "Prof.")
    person = [
        F("Salutation", "picklist", picks=salutation),
        F("First_Name", length=40),
        F("Last_Name", mandatory=True, length=80),
        F("Full_Name", read_only=True),
    ]
    who = F("Who_Id", "lookup", targets=("Contacts", "Leads"), label="Contact Name")
    what = F("What_Id", "parent", label="Related To")
    specs: list[tuple[str, str, str, list[FieldDef], tuple[str, ...]]] = [
        (
            "Leads",
            "Lead",
            "Full_Name",
            [
                *person,
                F("Company", length=200),
                F("Email", "email"),
                F("Phone", "phone"),
                F("Mobile", "phone"),
                F(
                    "Lead_Status",
                    "picklist",
                    picks=(
                        "-None-",
                        "Attempted to Contact",
                        "Contact in Future",
                        "Contacted",
                        "Junk Lead",
                        "Lost Lead",
                        "Not Contacted",
                        "Pre-Qualified",
                        "Not Qualified",
                    ),
                ),
                F("Lead_Source", "picklist", picks=_LEAD_SOURCE),
                F("Industry", "picklist", picks=_INDUSTRY),
                F(
                    "Rating",
                    "picklist",
                    picks=("-None-", "Acquired", "Active", "Market Failed", "Project Cancelled"),
                ),
                F("Website", "url"),
                *texts("Designation", "Street", "City", "State", "Zip_Code", "Country"),
                F("Description", "textarea"),
                F("Annual_Revenue", "currency"),
                F("No_of_Employees", "integer"),
                F("Email_Opt_Out", "boolean"),
            ],
            ("Email",),
        ),
        (
            "Contacts",
            "Contact",
            "Full_Name",
            [
                *person,
                F("Account_Name", "lookup", targets=("Accounts",)),
                F("Email", "email"),
                F("Phone", "phone"),
                F("Mobile", "phone"),
                *texts("Title", "Department", "Mailing_Street", "Mailing_City", "Mailing_State"),
                *texts("Mailing_Zip", "Mailing_Country"),
                F("Date_of_Birth", "date"),
                F("Lead_Source", "picklist", picks=_LEAD_SOURCE),
                F("Description", "textarea"),
                F("Email_Opt_Out", "boolean"),
            ],
            ("Email",),
        ),
        (
            "Accounts",
            "Account",
            "Account_Name",
            [
                F("Account_Name", mandatory=True, length=200),
                F("Phone", "phone"),
                F("Website", "url"),
                F("Industry", "picklist", picks=_INDUSTRY),
                F("Annual_Revenue", "currency"),
                F("Account_Number", "bigint"),
                F("Parent_Account", "lookup", targets=("Accounts",)),
                *texts("Billing_Street", "Billing_City", "Billing_State", "Billing_Code"),
                *texts("Billing_Country", "Shipping_Street", "Shipping_City", "Shipping_State"),
                *texts("Shipping_Code", "Shipping_Country"),
                F("Description", "textarea"),
            ],
            ("Account_Name",),
        ),
        (
            "Deals",
            "Deal",
            "Deal_Name",
            [
                F("Deal_Name", mandatory=True, length=120),
                F("Stage", "picklist", mandatory=True, picks=_stages()),
                F("Amount", "currency"),
                F("Closing_Date", "date"),
                F("Account_Name", "lookup", targets=("Accounts",)),
                F("Contact_Name", "lookup", targets=("Contacts",)),
                F("Probability", "integer", min_value=0, max_value=100, length=3),
                F(
                    "Type",
                    "picklist",
                    picks=("-None-", "Existing Business", "New Business"),
                ),
                F("Lead_Source", "picklist", picks=_LEAD_SOURCE),
                F("Next_Step", length=100),
                F("Description", "textarea"),
            ],
            ("Deal_Name",),
        ),
        (
            "Tasks",
            "Task",
            "Subject",
            [
                F("Subject", mandatory=True),
                F("Due_Date", "date"),
                F(
                    "Status",
                    "picklist",
                    picks=(
                        "Not Started",
                        "Deferred",
                        "In Progress",
                        "Completed",
                        "Waiting for input",
                    ),
                ),
                F("Priority", "picklist", picks=("High", "Highest", "Low", "Lowest", "Normal")),
                what,
                who,
                F("Description", "textarea"),
                F("Remind_At", "datetime"),
            ],
            ("Subject",),
        ),
        (
            "Events",
            "Event",
            "Event_Title",
            [
                F("Event_Title", mandatory=True),
                F("Start_DateTime", "datetime", mandatory=True),
                F("End_DateTime", "datetime", mandatory=True),
                what,
                who,
                F("Location"),
                F("Description", "textarea"),
            ],
            ("Event_Title",),
        ),
        (
            "Calls",
            "Call",
            "Subject",
            [
                F("Subject", mandatory=True),
                F(
                    "Call_Type",
                    "picklist",
                    mandatory=True,
                    picks=("Outbound", "Inbound", "Missed"),
                ),
                F("Call_Start_Time", "datetime", mandatory=True),
                F("Call_Duration", mandatory=True, length=10),
                what,
                who,
                F("Description", "textarea"),
            ],
            ("Subject",),
        ),
        (
            "Products",
            "Product",
            "Product_Name",
            [
                F("Product_Name", mandatory=True, length=200),
                F("Product_Code", length=40),
                F("Unit_Price", "currency"),
                F("Qty_in_Stock", "decimal"),
                F("Product_Active", "boolean"),
                F("Description", "textarea"),
            ],
            ("Product_Name",),
        ),
        (
            "Notes",
            "Note",
            "Note_Title",
            [
                F("Note_Title", length=120),
                F("Note_Content", "textarea", mandatory=True),
                F("Parent_Id", "parent", mandatory=True),
            ],
            (),
        ),
    ]
    out = []
    for seq, (name, singular, name_field, field_list, dup) in enumerate(specs, start=1):
        out.append(
            ModuleDef(
                name,
                "",
                {f.api_name: f for f in field_list},
                name_field,
                dup,
                singular_label=singular,
                plural_label=name,
                custom=False,
                sequence_number=seq,
            )
        )
    return out
