"""Tickets REST API: open a ticket (guests, customers, staff on a customer's behalf; safe to retry
with an Idempotency-Key), list, read, reply, and staff changes. Thin: parse (tickets/
api_serializers.py), call a service, serialize."""

from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import exceptions, pagination, serializers, status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from kb.models import Language
from tickets import selectors
from tickets.api.serializers import (
    CustomerFilters,
    ErrorOut,
    GuestTicketIn,
    MessageIn,
    MessagePostedOut,
    StaffFilters,
    StaffMessageIn,
    StaffTicketDetailOut,
    StaffTicketIn,
    StaffTicketOut,
    TicketCreatedOut,
    TicketDetailOut,
    TicketIn,
    TicketOut,
    TicketUpdateIn,
    ValidationErrorOut,
)
from tickets.limits import GuestCreateThrottle
from tickets.models import AuthorKind, Channel, Customer, Ticket
from tickets.models.tickets import parse_reference
from tickets.selectors import is_support_staff as is_staff
from tickets.services import (
    customer_for_email,
    customer_for_guest,
    customer_for_user,
    message_post,
    ticket_update,
)
from tickets.services.idempotency import (
    MAX_KEY_LENGTH,
    IdempotencyConflict,
    idempotency_scope,
    request_fingerprint,
    ticket_create_idempotent,
)

# --- Who is calling ----------------------------------------------------------------------------


def _customer_of(user) -> Customer:
    # A plain read first: customer_for_user takes a write lock, which a read should not need.
    return selectors.customer_of(user) or customer_for_user(user=user)


def _ticket_for(request, reference: str) -> Ticket:
    """The ticket the caller may see, or 404 (the same for a missing ticket, somebody else's and
    a malformed reference, so references cannot be probed)."""
    pk = parse_reference(reference)
    ticket = None
    if pk and is_staff(request.user):
        ticket = Ticket.objects.for_list().filter(pk=pk).first()
    elif pk:
        ticket = selectors.customer_ticket_or_target(_customer_of(request.user), pk)
    if ticket is None:
        raise exceptions.NotFound()
    return ticket


class SignedInUnlessCreating(BasePermission):
    """Anybody may open a ticket; everything else needs a session or a token."""

    def has_permission(self, request, view) -> bool:
        return request.method == "POST" or bool(request.user and request.user.is_authenticated)


class IdempotencyKeyReused(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = gettext_lazy(
        "This Idempotency-Key was already used for a different request. Use a new key."
    )
    default_code = "idempotency_key_reused"


# Token first: an anonymous caller then gets 401 with WWW-Authenticate (DRF answers with the
# first class's header), rather than the 403 that session authentication alone would give.
AUTHENTICATION = [TokenAuthentication, SessionAuthentication]


# --- Pagination --------------------------------------------------------------------------------


class CountlessPagination(pagination.BasePagination):
    """Page numbers without a total: each page reads page_size + 1 rows, the extra one telling
    whether there is a next page. A page costs the same at 100 or 100,000 tickets: no COUNT(*)."""

    page_query_param = "page"
    page_size_query_param = "page_size"
    max_page_size = 100
    # Deep offsets are slow to read (and a huge one overflows the database's integer): past this
    # many rows, filter instead.
    max_offset = 1_000_000

    def paginate_queryset(self, queryset, request, view=None) -> list:
        self.request = request
        try:
            self.page = int(request.query_params.get(self.page_query_param, 1))
        except ValueError:
            self.page = 0
        if self.page < 1:
            raise exceptions.NotFound(_("Invalid page."))
        self.page_size = self._page_size(request)
        offset = (self.page - 1) * self.page_size
        if offset > self.max_offset:
            raise exceptions.NotFound(_("Invalid page."))
        rows = list(queryset[offset : offset + self.page_size + 1])
        if not rows and self.page > 1:
            raise exceptions.NotFound(_("Invalid page."))
        self.has_next = len(rows) > self.page_size
        return rows[: self.page_size]

    def _page_size(self, request) -> int:
        default = api_settings.PAGE_SIZE or 20
        try:
            size = int(request.query_params.get(self.page_size_query_param, default))
        except ValueError:
            return default
        return min(max(size, 1), self.max_page_size)

    def _link(self, page: int) -> str:
        url = self.request.build_absolute_uri()
        if page == 1:
            return remove_query_param(url, self.page_query_param)
        return replace_query_param(url, self.page_query_param, page)

    def get_paginated_response(self, data) -> Response:
        return Response(
            {
                "next": self._link(self.page + 1) if self.has_next else None,
                "previous": self._link(self.page - 1) if self.page > 1 else None,
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict) -> dict:
        link = {"type": "string", "format": "uri", "nullable": True}
        return {
            "type": "object",
            "description": "One page, without a total count: follow `next` until it is null.",
            "required": ["next", "previous", "results"],
            "properties": {"next": link, "previous": link, "results": schema},
        }

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [
            {
                "name": self.page_query_param,
                "in": "query",
                "required": False,
                "description": "Page number, from 1. A page past the last one (or past the "
                f"first {self.max_offset:,} tickets) is a 404.",
                "schema": {"type": "integer", "minimum": 1},
            },
            {
                "name": self.page_size_query_param,
                "in": "query",
                "required": False,
                "description": f"Tickets per page (default {api_settings.PAGE_SIZE}, "
                f"at most {self.max_page_size}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]


# --- Schema helpers ----------------------------------------------------------------------------

_ERRORS = {
    400: OpenApiResponse(ValidationErrorOut, "Invalid request; `errors` names the fields."),
    401: OpenApiResponse(ErrorOut, "Not signed in (no session, no valid token)."),
    403: OpenApiResponse(ErrorOut, "Signed in but not allowed."),
    404: OpenApiResponse(
        ErrorOut, "No such ticket, or not one of yours (the same answer for both)."
    ),
    409: OpenApiResponse(ErrorOut, "The Idempotency-Key was used for a different request."),
    429: OpenApiResponse(ErrorOut, "Too many tickets opened without signing in; see Retry-After."),
}


def _errors(*codes: int) -> dict:
    return {code: _ERRORS[code] for code in codes}


REFERENCE = OpenApiParameter(
    "reference", str, OpenApiParameter.PATH, description="Ticket reference, e.g. HC-000123."
)
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description=f"Up to {MAX_KEY_LENGTH} characters, unique per request (a UUID). A retry with "
    "the same key and body returns the ticket created the first time, with the header "
    "`Idempotent-Replayed: true`; the same key with another body is a 409.",
)


def _either(name: str, *serializers_, many: bool | None = None) -> PolymorphicProxySerializer:
    return PolymorphicProxySerializer(
        component_name=name,
        serializers=list(serializers_),
        resource_type_field_name=None,
        many=many,
    )


TICKET_CREATE_REQUEST = _either("TicketCreate", GuestTicketIn, TicketIn, StaffTicketIn)
MESSAGE_REQUEST = _either("MessageCreate", MessageIn, StaffMessageIn)


def _json_or_multipart(schema) -> dict:
    return {"application/json": schema, "multipart/form-data": schema}


# --- Views -------------------------------------------------------------------------------------


def _request_language() -> str | None:
    language = translation.get_language()
    return language if language in Language.values else None


class TicketListCreateApi(APIView):
    """Tickets: the caller's own (customers) or the queue (staff); and opening one."""

    authentication_classes = AUTHENTICATION
    permission_classes = [SignedInUnlessCreating]
    throttle_classes = [GuestCreateThrottle]
    pagination_class = CountlessPagination

    @extend_schema(
        summary="List tickets",
        description="Customers: their own tickets, newest first (filter: status). Staff: every "
        "ticket in queue order (earliest SLA deadline first, then VIP lane, priority, age), "
        "with filters.",
        parameters=[StaffFilters],
        responses={
            200: _either("TicketListItem", TicketOut, StaffTicketOut, many=True),
            **_errors(400, 401),
            404: OpenApiResponse(ErrorOut, "A page past the last one (or not a page number)."),
        },
    )
    def get(self, request):
        if is_staff(request.user):
            filters = StaffFilters(data=request.query_params)
            filters.is_valid(raise_exception=True)
            tickets = selectors.staff_tickets(filters.validated_data, user=request.user)
            out = StaffTicketOut
        else:
            filters = CustomerFilters(data=request.query_params)
            filters.is_valid(raise_exception=True)
            tickets = Ticket.objects.visible_to_customer(_customer_of(request.user))
            if statuses := filters.validated_data.get("status"):
                tickets = tickets.filter(status__in=statuses)
            tickets = tickets.order_by("-created_at", "-pk")
            out = TicketOut
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(tickets, request, view=self)
        return paginator.get_paginated_response(out(page, many=True).data)

    @extend_schema(
        summary="Open a ticket",
        description="Guests (no session or token) give name, email, subject and body, and get "
        "the private link to follow the ticket; they are throttled per address. A guest's "
        "ticket never joins a registered customer's account: with such an email it goes to an "
        "unverified contact, answered by email to that address (its private link shows the "
        "guest's own messages only) until the address's owner claims it. Signed-in "
        "customers give subject and body. Staff open tickets on a customer's behalf with "
        "customer_email (and customer_name, priority). Any other field is a 400. Files go in "
        "`attachments` of a multipart request (images, PDF, plain text).",
        parameters=[IDEMPOTENCY_KEY],
        auth=[{"tokenAuth": []}, {"cookieAuth": []}, {}],  # {}: guests too
        request=_json_or_multipart(TICKET_CREATE_REQUEST),
        responses={
            201: OpenApiResponse(
                TicketCreatedOut,
                "Created; or, with `Idempotent-Replayed: true`, the ticket a previous request "
                "with the same Idempotency-Key created.",
            ),
            **_errors(400, 401, 409, 429),
        },
    )
    def post(self, request):
        user = request.user
        staff, guest = is_staff(user), not user.is_authenticated
        key = request.headers.get("Idempotency-Key", "").strip()
        if len(key) > MAX_KEY_LENGTH:
            raise serializers.ValidationError(
                {
                    "Idempotency-Key": [
                        _("At most %(limit)d characters.") % {"limit": MAX_KEY_LENGTH}
                    ]
                }
            )
        serializer = GuestTicketIn if guest else StaffTicketIn if staff else TicketIn
        data = serializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        if guest:
            email = values.pop("email")
            customer = customer_for_guest(
                email=email, name=values.pop("name"), language=_request_language()
            )
            scope = idempotency_scope(email=email)
        elif staff:  # trusted: the ticket joins the customer with this email, whoever it is
            customer = customer_for_email(
                email=values.pop("customer_email"), name=values.pop("customer_name")
            )
            scope = idempotency_scope(user=user)
        else:
            customer = _customer_of(user)
            scope = idempotency_scope(user=user)
        try:
            ticket, created = ticket_create_idempotent(
                scope=scope,
                key=key,
                request_hash=request_fingerprint(request.data),
                customer=customer,
                channel=Channel.API,
                actor=None if guest else user,
                **values,
            )
        except IdempotencyConflict:
            raise IdempotencyKeyReused from None
        response = Response(
            TicketCreatedOut(ticket, context={"guest": guest}).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("tickets-api:detail", args=[ticket.reference])},
        )
        if not created:
            response["Idempotent-Replayed"] = "true"
        return response


class TicketDetailApi(APIView):
    """One ticket with its conversation; staff change its status, priority, assignee, team."""

    authentication_classes = AUTHENTICATION
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="Read a ticket",
        description="With its messages: customers see public ones, staff internal notes too.",
        parameters=[REFERENCE],
        responses={
            200: _either("TicketDetail", TicketDetailOut, StaffTicketDetailOut),
            **_errors(401, 404),
        },
    )
    def get(self, request, reference: str):
        ticket = _ticket_for(request, reference)
        staff = is_staff(request.user)
        ticket.thread = list(selectors.thread(ticket, include_internal=staff))
        out = StaffTicketDetailOut if staff else TicketDetailOut
        return Response(out(ticket).data)

    @extend_schema(
        summary="Change a ticket (staff)",
        description="Needs the change-ticket permission. Priority as 1-4 or urgent, high, "
        "normal, low; assignee as user id or username (null unassigns); team as slug (or null).",
        parameters=[REFERENCE],
        request=TicketUpdateIn,
        responses={200: StaffTicketOut, **_errors(400, 401, 403, 404)},
    )
    def patch(self, request, reference: str):
        ticket = _ticket_for(request, reference)
        if not (is_staff(request.user) and request.user.has_perm("tickets.change_ticket")):
            raise exceptions.PermissionDenied(_("Only staff can change tickets."))
        data = TicketUpdateIn(data=request.data)
        data.is_valid(raise_exception=True)
        ticket = ticket_update(ticket=ticket, actor=request.user, **data.validated_data)
        return Response(StaffTicketOut(ticket).data)


class TicketMessageCreateApi(APIView):
    """A reply to a ticket (or, for staff, an internal note)."""

    authentication_classes = AUTHENTICATION
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="Reply to a ticket",
        description="Customers: body (and attachments). A reply reopens a pending or recently "
        "solved ticket; a reply to a closed one (or one solved long ago) opens a follow-up "
        "ticket, named in the response's `ticket`. Staff: also `internal` (a note the customer "
        "never sees) and `status`.",
        parameters=[REFERENCE],
        request=_json_or_multipart(MESSAGE_REQUEST),
        responses={201: MessagePostedOut, **_errors(400, 401, 403, 404)},
    )
    def post(self, request, reference: str):
        ticket = _ticket_for(request, reference)
        staff = is_staff(request.user)
        if staff and not request.user.has_perm("tickets.add_message"):
            raise exceptions.PermissionDenied()
        data = (StaffMessageIn if staff else MessageIn)(data=request.data)
        data.is_valid(raise_exception=True)
        message = message_post(
            ticket=ticket,
            author_kind=AuthorKind.AGENT if staff else AuthorKind.CUSTOMER,
            author=request.user,
            **data.validated_data,
        )
        return Response(MessagePostedOut(message).data, status=status.HTTP_201_CREATED)
