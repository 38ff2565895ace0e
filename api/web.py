"""The web page for support people at `/`, and the feedback it sends (being built: issue 7)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
