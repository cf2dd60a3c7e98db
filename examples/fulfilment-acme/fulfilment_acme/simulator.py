"""A loopback simulator of the ACME Parcels API."""

from __future__ import annotations

from typing import Any

from fulfilment.runners.sandbox.server import SimRequest, SimResponse, Simulator, route

API_KEY = "acme-sandbox-key"


class AcmeSimulator(Simulator):
    name = "acme"

    def initial_state(self) -> dict[str, Any]:
        return {"parcels": {}}

    def sandbox_settings(self, base_url: str) -> dict[str, Any]:
        """The ``[partners.acme]`` table that connects to this simulator."""
        return {"adapter": "acme", "base_url": base_url, "api_key": API_KEY}

    def _authorised(self, request: SimRequest) -> bool:
        return request.header("authorization") == f"ApiKey {API_KEY}"

    @route("POST", r"/v1/parcels", "create")
    def create(self, request: SimRequest) -> SimResponse:
        if not self._authorised(request):
            return SimResponse(401, {"error": "bad api key"})
        body = request.json()
        parcels = self.state["parcels"]
        if body["reference"] in parcels:
            return SimResponse(409, {"parcel": parcels[body["reference"]]})
        if not body.get("phone"):
            return SimResponse(422, {"error": "phone is required"})
        parcel = {
            "parcel_id": f"ACME{len(parcels) + 1:06d}",
            "reference": body["reference"],
            "cod": body.get("cod"),
        }
        parcels[body["reference"]] = parcel
        return SimResponse(201, {"parcel": parcel})

    @route("GET", r"/v1/parcels", "find")
    def find(self, request: SimRequest) -> SimResponse:
        if not self._authorised(request):
            return SimResponse(401, {"error": "bad api key"})
        found = self.state["parcels"].get(request.arg("reference") or "")
        return SimResponse(200, {"parcels": [found] if found else []})
