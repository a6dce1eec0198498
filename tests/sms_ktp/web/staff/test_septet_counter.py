"""The live septet counter of the forms whose text lands in a resident's SMS (septets.js) counts
what the server counts (`sms_budget.length`: gsm7/encoding.py's GSM-7 normalisation, then septets),
run under Node on the script as shipped."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from gsm7.encoding import _BASIC, _EXTENSION
from sms_ktp.applications import sms_budget

SEPTETS_JS = Path(__file__).parents[4] / "sms_ktp" / "web" / "static" / "septets.js"
SAMPLES = ["", "Suket tidak terbaca", "[]{}~^€|\\", "Foto [buram] {ulang} ~ KTP^ €5",
           "café Ñ Ä Ö ß Σ", "“kutip” ‘satu’ – — …", "™ © ·", "e\u0301", "ﬁle ＫＴＰ", "日本語",
           "\U0001f600 emoji", "tab\there", "\u00a0nbsp", "line\nbreak", "\u000c", "ĉ ŝ ő ų",
           "Kantor Kec. Bogor Selatan", "Jl. Batutulis No. 1, Bogor Selatan", "½ ² ①", "`x`"]


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js to run septets.js")
def test_the_script_counts_like_the_server():
    program = ("const m = require(process.argv[1]);"
               "const samples = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
               "console.log(JSON.stringify({basic: m.BASIC, extension: m.EXTENSION,"
               " counts: samples.map(m.septets),"
               " kept: [m.kept('  a  b  ', true), m.kept('  a  b  ', false)]}));")
    result = subprocess.run(["node", "-e", program, str(SEPTETS_JS)], check=True,
                            input=json.dumps(SAMPLES), capture_output=True, text=True,
                            timeout=30)
    answer = json.loads(result.stdout)
    assert set(answer["basic"]) == _BASIC and len(answer["basic"]) == len(_BASIC)
    assert set(answer["extension"]) == _EXTENSION
    assert dict(zip(SAMPLES, answer["counts"], strict=True)) == {
        text: sms_budget.length(text) for text in SAMPLES}
    # A rejection's reason is kept with single spaces (the server: " ".join(split())); an
    # office's name and address only trimmed.
    assert answer["kept"] == ["a b", "a  b"]
