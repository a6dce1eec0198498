"""The phones flooding the service, on the messages page over real HTTP: admins see them with
masked numbers and the counts; the table is absent when nobody floods."""

from __future__ import annotations

import re
from html import unescape

from live_service import PHONE, PHONE_2


def flood_rows(html: str) -> list[list[str]]:
    if 'id="flood-list"' not in html:
        return []
    table = html.split('id="flood-list"')[1].split("</table>")[0]
    return [[unescape(re.sub(r"<[^>]+>", "", cell)).strip()
             for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r'<tr class="flood">.*?</tr>', table, re.S)]


def test_a_phone_sending_thirty_sms_within_the_hour_is_shown_masked(service, admin):
    for number in range(29):
        service.post_sms(PHONE, f"halo {number}")
    service.post_sms(PHONE_2, "DAFTAR")
    page = admin.get("/staff/messages")
    assert page.status_code == 200 and flood_rows(page.text) == []
    assert "Nomor yang membanjiri" not in page.text
    service.post_sms(PHONE, "halo lagi")
    page = admin.get("/staff/messages")
    assert "Nomor yang membanjiri" in page.text
    # 30 SMS, of which the first 3 help replies went out and then the identical ones were held.
    assert flood_rows(page.text) == [["+62***890", "30", "30", "3", "30 Nov 2026 09.00"]]
    assert "81234567890" not in page.text.split('id="messages"')[0]
    assert "paling sedikit 30 SMS dalam 1 jam terakhir atau 100 SMS dalam 24 jam" in page.text
    assert "<script" not in page.text.split('id="floods"')[1].split("</section>")[0]


def test_the_thresholds_come_from_the_configuration(service, admin):
    limits = service.runtime.settings.limits
    limits.flood_inbound_per_hour, limits.flood_inbound_per_day = 3, 0
    for _ in range(3):
        service.post_sms(PHONE_2, "halo")
    page = admin.get("/staff/messages")
    assert [row[0] for row in flood_rows(page.text)] == ["+62***222"]
    assert "paling sedikit 3 SMS dalam 1 jam terakhir, terbanyak" in page.text
