"""What tierii-keyring costs: ``tierii --help`` with it loaded and without, and building the
smtp provider (what every run does before sending) with its password from keyrings.alt's
encrypted file keyring vs from settings.

Needs this interpreter to have tierii-core, tierii-smtp and tierii-keyring[test] installed.
Medians of N runs each, interleaved so that the machine's noise falls on both alike; compare
the ratios.

    python bench/keyring.py [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import measure

#: builds the provider as `tierii send` does (plugins, settings, the credentials hook)
BUILD = (
    "from tierii_core.plugins import make_plugin_manager\n"
    "from tierii_core.settings import CoreSettings, SettingsReader\n"
    "from tierii_core.assembly import Assembly\n"
    "reader = SettingsReader()\n"
    "provider = Assembly(make_plugin_manager(), reader, reader.load(CoreSettings)).provider('smtp')\n"
    "assert provider.credentials.secret.reveal() == 'bench-Pw', provider.credentials\n"
)


def _keyring_home(tmp: Path) -> dict[str, str]:
    env = {
        "HOME": str(tmp),
        "XDG_DATA_HOME": str(tmp / "data"),
        "XDG_CONFIG_HOME": str(tmp / "config"),
        "PYTHON_KEYRING_BACKEND": "tierii_keyring.testing.EnvironmentPasswordKeyring",
        "TEST_KEYRING_PASSWORD": "bench-keyring-password",
    }
    store = "import keyring; keyring.set_password('tierii', 'smtp', 'bench-Pw')"
    done = measure([sys.executable, "-c", store], cwd=tmp, env=env)
    if done.returncode != 0:
        raise SystemExit(f"cannot store the password: {done.stderr[-1000:]}")
    return env


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tierii-keyring-bench-") as name:
        tmp = Path(name)
        home = _keyring_home(tmp)
        smtp = {"TIERII_SMTP_HOST": "127.0.0.1", "TIERII_SMTP_USERNAME": "shop"}
        no_keyring = {"TIERII_DISABLE_PLUGINS": "tierii-keyring"}
        help_ = [sys.executable, "-c", "from tierii_core.cli import main; main()", "--help"]
        build = [sys.executable, "-c", BUILD]
        commands = {
            "help, keyring loaded": (help_, home),
            "help, keyring disabled": (help_, {**home, **no_keyring}),
            "provider, password from keyring": (build, {**home, **smtp}),
            "provider, password from settings": (
                build,
                {
                    **home,
                    **smtp,
                    "TIERII_SMTP_PASSWORD": "bench-Pw",
                    "TIERII_DISABLE_PLUGINS": "tierii-keyring",
                },
            ),
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for command, env in commands.values():  # warm the file cache
            measure(command, cwd=tmp, env=env)
        for _ in range(args.runs):
            for name, (command, env) in commands.items():
                run = measure(command, cwd=tmp, env=env)
                if run.returncode != 0:
                    raise SystemExit(f"{name} failed: {run.stderr[-1000:]}")
                times[name].append(run.wall)
    ms = {name: round(statistics.median(values) * 1000, 1) for name, values in times.items()}
    from_keyring, from_settings = (
        ms["provider, password from keyring"],
        ms["provider, password from settings"],
    )
    result = {
        "ms": ms,
        "help_ratio": round(ms["help, keyring loaded"] / ms["help, keyring disabled"], 2),
        "provider_ratio": round(from_keyring / from_settings, 2),
    }
    if args.json:
        print(json.dumps(result))
    else:
        for name, value in ms.items():
            print(f"{name:<34} {value:7.1f} ms (median of {args.runs})")
        print(f"--help with / without the plugin: {result['help_ratio']:.2f}x")
        print(f"provider with the keyring / from settings: {result['provider_ratio']:.2f}x")
    return result


if __name__ == "__main__":
    main()
