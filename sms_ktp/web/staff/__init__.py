"""The back office: server-rendered pages for Disdukcapil and kelurahan/kecamatan staff. Every
module of this package adds its pages to the one `staff` blueprint."""

from __future__ import annotations

import importlib
import pkgutil

from sms_ktp.web.staff.blueprint import staff

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "blueprint":
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["staff"]
