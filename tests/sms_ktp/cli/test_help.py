"""Every command of `sms-ktp` with its description, arguments and options as `--help` shows them:
a command, an option or its help lost (or added without a line here) fails. Usage errors are
exit status 2 and touch neither the configuration nor the database."""

from __future__ import annotations

from importlib.metadata import entry_points

import click
import pytest
from click.testing import CliRunner

from sms_ktp.cli.main import cli, main

NIK_HELP = "the resident's NIK, or - to read it from standard input (kept out of the history)"
SITE_HELP = "printing site (default: the first configured)"
CARD_HELP = "--card [ktp|kia] the kind of blank card: ktp (KTP-el) or kia (KIA) [default: ktp]"
HELP = "-h, --help Show this message and exit."
REF_HELP = "the application's reference (9 digits, in the family's SMS)"
# command -> (its usage line, its description, its help lines: an option or an argument with
# its metavar, then its help). Groups list their commands, with their descriptions, in order.
COMMANDS: dict[str, tuple[str, str, list[str]]] = {
    "": ("sms-ktp [OPTIONS] COMMAND [ARGS]...", "`sms-ktp`: the command line of the service.",
         ["--config TEXT TOML configuration file (default: $SMS_KTP_CONFIG, else the embedded "
          "default)"]),
    "init-db": ("sms-ktp init-db [OPTIONS]", "create or upgrade the database schema", []),
    "serve": ("sms-ktp serve [OPTIONS]", "run the web app (and the embedded worker)",
              ["--host TEXT", "--port INTEGER"]),
    "worker": ("sms-ktp worker [OPTIONS]", "run the scheduled jobs",
               ["--once run every due job once and exit"]),
    "simulate": ("sms-ktp simulate [OPTIONS]", "a terminal phone",
                 ["--phone TEXT the phone number to text from [required]"]),
    "penunggalan": ("sms-ktp penunggalan [OPTIONS] COMMAND [ARGS]...",
                    "penunggalan results from Kemendagri", []),
    "penunggalan import": ("sms-ktp penunggalan import [OPTIONS] FILE",
                           "apply a results file: CSV (; or ,) or XLSX, with the columns nik, "
                           "result (or hasil) and note (or keterangan)",
                           ["--rows also print the outcome of every line (masked NIK)"]),
    "blangko": ("sms-ktp blangko [OPTIONS] COMMAND [ARGS]...", "blank-card stock", []),
    "blangko add": ("sms-ktp blangko add [OPTIONS] COUNT", "add N blank cards to a site's stock",
                    [f"--site TEXT {SITE_HELP}", CARD_HELP]),
    "print": ("sms-ktp print [OPTIONS] COMMAND [ARGS]...", "print batches", []),
    "print next": ("sms-ktp print next [OPTIONS]", "reserve the next batch for printing",
                   ["--limit INTEGER", f"--site TEXT {SITE_HELP}", CARD_HELP]),
    "print done": ("sms-ktp print done [OPTIONS]",
                   "mark a reserved batch printed\n\nGive one of --batch and --all.",
                   ["--batch INTEGER the batch reserved by `print next`",
                    "--all every reserved batch"]),
    "outbox": ("sms-ktp outbox [OPTIONS] COMMAND [ARGS]...", "SMS waiting or failed", []),
    "outbox requeue": ("sms-ktp outbox requeue [OPTIONS]",
                       "give SMS parked as failed a fresh set of attempts (after an outage)",
                       ["--phone TEXT only the SMS to this number"]),
    "pickup": ("sms-ktp pickup [OPTIONS] COMMAND [ARGS]...", "pickups at the counter", []),
    "pickup verify": ("sms-ktp pickup verify [OPTIONS] CODE",
                      "hand over the cards of the family visit with CODE",
                      ["--only REF hand over only this card (repeat for several); the visit's "
                       "other cards get a visit of their own, with an SMS"]),
    "application": ("sms-ktp application [OPTIONS] COMMAND [ARGS]...",
                    "one application of any document: what it is at, its next stage, its signed "
                    "PDF", []),
    "application show": ("sms-ktp application show [OPTIONS] REF",
                         "one application: its document, stage, masked numbers, papers visit, "
                         "files and timeline",
                         [f"Positional arguments: REF {REF_HELP}", "--json as JSON (for scripts)"]),
    "application advance": ("sms-ktp application advance [OPTIONS] REF",
                            "move an application to its next stage, or reject or cancel it with "
                            "a reason\n\nThe steps of penunggalan, print batches, pickup "
                            "allocation and the counter are refused with the command that takes "
                            "them.",
                            [f"Positional arguments: REF {REF_HELP}",
                             "--to STAGE the stage to set (default: the next of the document's "
                             "path); rejected or cancelled need --note",
                             "--note TEXT the reason (sent to the family when rejected), or a "
                             "remark for the timeline"]),
    "application attach": ("sms-ktp application attach [OPTIONS] REF FILE",
                           "attach a signed PDF (a KK, an akta) to its application: the family "
                           "gets its link and PIN when it is ready (audited)",
                           [f"Positional arguments: REF {REF_HELP} FILE the PDF signed "
                            "electronically (TTE); several files: attach each"]),
    "post": ("sms-ktp post [OPTIONS] COMMAND [ARGS]...",
             "cards posted to families instead of collected", []),
    "post list": ("sms-ktp post list [OPTIONS]", "the parcels to post, then those on their way",
                  []),
    "post sent": ("sms-ktp post sent [OPTIONS] REF TRACKING",
                  "record the tracking number of a parcel handed to the courier (the family "
                  "gets it by SMS)", []),
    "post delivered": ("sms-ktp post delivered [OPTIONS] REF",
                       "record that a parcel was delivered (its cards are closed)", []),
    "staff": ("sms-ktp staff [OPTIONS] COMMAND [ARGS]...", "accounts of the staff back office",
              []),
    "staff add": ("sms-ktp staff add [OPTIONS] NAME", "create an account",
                  ["--role [admin|operator|helper|viewer] [required]",
                   "--office TEXT operators: the kecamatan code of their office (two digits: "
                   "`sms-ktp region show` lists them); kelurahan helpers: the 10-digit code of "
                   "their kelurahan or desa (`sms-ktp region kelurahan WORDS` finds it), for "
                   "their home page and the list of families without a phone",
                   "--password-stdin read the password from standard input instead of asking"]),
    "staff password": ("sms-ktp staff password [OPTIONS] NAME",
                       "set a new password (ends its sessions)", ["--password-stdin"]),
    "staff disable": ("sms-ktp staff disable [OPTIONS] NAME", "stop an account from signing in",
                      []),
    "staff enable": ("sms-ktp staff enable [OPTIONS] NAME",
                     "let a disabled account sign in again", []),
    "staff unlock": ("sms-ktp staff unlock [OPTIONS] NAME",
                     "lift the lock after too many failed sign-ins", []),
    "staff list": ("sms-ktp staff list [OPTIONS]", "the accounts and their roles", []),
    "privacy": ("sms-ktp privacy [OPTIONS] COMMAND [ARGS]...",
                "a resident's data (a copy, its erasure); the keys of its encryption", []),
    "privacy export": ("sms-ktp privacy export [OPTIONS] NIK",
                       "everything held about a resident, as JSON",
                       [f"Positional arguments: NIK {NIK_HELP}",
                        "--output PATH write it into this file (readable by its owner only) "
                        "instead of standard output"]),
    "privacy erase": ("sms-ktp privacy erase [OPTIONS] NIK",
                      "erase a resident's personal data (without --yes: what would happen)",
                      [f"Positional arguments: NIK {NIK_HELP}", "--yes erase it"]),
    "privacy rotate-key": ("sms-ktp privacy rotate-key [OPTIONS]",
                           "encrypt again under the current data key what older keys encrypted",
                           ["--lookup also recompute every keyed hash under a new lookup key "
                            "(service stopped)",
                            "--new-lookup-key TEXT the new lookup key (better: "
                            "SMS_KTP_NEW_LOOKUP_KEY in the environment; neither: one is made "
                            "and printed)"]),
    "region": ("sms-ktp region [OPTIONS] COMMAND [ARGS]...",
               "the regency served ([region] code) and the others", []),
    "region show": ("sms-ktp region show [OPTIONS]",
                    "the regency served: code, name, province, time zone, kecamatan, pickup "
                    "offices and languages", []),
    "region find": ("sms-ktp region find [OPTIONS] WORDS...",
                    "regencies whose name holds every word (or whose code starts with the "
                    "digits given), with their codes",
                    ["Positional arguments: WORDS e.g. bogor, or kota makassar, or 73"]),
    "region kelurahan": ("sms-ktp region kelurahan [OPTIONS] [WORDS]...",
                         "the kelurahan and desa of the regency served whose name holds every "
                         "word (all of them without words), with their 10-digit codes", []),
    "whatsapp": ("sms-ktp whatsapp [OPTIONS] COMMAND [ARGS]...",
                 "the WhatsApp channel ([gateway.whatsapp])", []),
    "whatsapp templates": ("sms-ktp whatsapp templates [OPTIONS]",
                           "each notice's wording as a template to submit to Meta (category "
                           "utility), its variables with a sample, and whether it is configured",
                           ["--language TEXT the template's language at Meta (id, en, en_US) "
                            "[default: id]"]),
}


def words(text: str) -> str:
    return " ".join(text.split())


def commands(group: click.Group = cli, prefix: str = "") -> list[str]:
    """Every command and group under `group`, as the command line names them, in order."""
    found: list[str] = []
    for name in group.list_commands(click.Context(group)):
        command = group.commands[name]
        found.append(f"{prefix}{name}")
        if isinstance(command, click.Group):
            found += commands(command, f"{prefix}{name} ")
    return found


def test_the_table_names_every_command_in_order():
    assert commands() == [name for name in COMMANDS if name]


@pytest.mark.parametrize("name", list(COMMANDS))
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_shows_the_description_arguments_and_options(name, flag, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SMS_KTP_CONFIG", str(tmp_path / "missing.toml"))  # never read
    shown = CliRunner().invoke(cli, [*name.split(), flag], prog_name="sms-ktp",
                               catch_exceptions=False)
    assert shown.exit_code == 0 and shown.stderr == ""
    usage, description, lines = COMMANDS[name]
    assert shown.stdout.startswith(f"Usage: {usage}\n")
    text = words(shown.stdout)
    assert f"{usage} {words(description)} " in text  # the description, after the usage
    arguments = [line for line in lines if line.startswith("Positional arguments:")]
    expected = [*arguments, "Options:", *(line for line in lines if line not in arguments), HELP]
    children = [sub for sub in COMMANDS if sub and sub.rpartition(" ")[0] == name]
    if children:  # a group: its commands, each with its description's first paragraph
        expected.append("Commands: " + " ".join(
            f"{sub.split()[-1]} {COMMANDS[sub][1].split(chr(10) * 2)[0]}" for sub in children))
    assert " ".join(expected) in text
    assert not list(tmp_path.iterdir())  # no configuration read, no database made


def test_a_usage_error_is_status_2_before_the_configuration_is_read(tmp_path, monkeypatch,
                                                                   capsys):
    monkeypatch.chdir(tmp_path)
    broken = tmp_path / "broken.toml"
    broken.write_text('[gateway]\nprovider = "pigeon"\n')
    config = ["--config", str(broken)]
    assert main([*config, "staff", "add", "rina", "--role", "boss"]) == 2
    assert "'boss' is not one of 'admin', 'operator', 'helper', 'viewer'" in (
        capsys.readouterr().err)
    assert main([*config, "print", "done"]) == 2
    assert "one of the arguments --batch --all is required" in capsys.readouterr().err
    assert main([*config, "print", "done", "--batch", "1", "--all"]) == 2
    assert "argument --all: not allowed with argument --batch" in capsys.readouterr().err
    assert main([*config, "serve", "--port", "eighty"]) == 2
    assert main([*config, "worker", "--twice"]) == 2
    assert main([*config, "nonsense"]) == 2
    assert "No such command 'nonsense'" in capsys.readouterr().err
    assert main([*config]) == 2
    assert "Error: Missing command." in capsys.readouterr().err
    assert main([]) == 2  # nothing at all: the list of commands, as an error
    assert "Commands:" in capsys.readouterr().err
    assert sorted(path.name for path in tmp_path.iterdir()) == ["broken.toml"]
    # Understood: the configuration is read, and refused.
    assert main([*config, "staff", "list"]) == 2
    assert "sms-ktp: configuration: unknown [gateway] provider 'pigeon'" in (
        capsys.readouterr().err)
    assert main(["--help"]) == 0 and "Commands:" in capsys.readouterr().out


def test_the_console_script_is_main():
    [script] = entry_points(group="console_scripts", name="sms-ktp")
    assert script.load() is main
