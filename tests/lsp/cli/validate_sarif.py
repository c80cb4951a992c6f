#!/usr/bin/env python3
"""Validates a SARIF log against the SARIF 2.1.0 JSON schema (tests/data/sarif) with the
`jsonschema` package from PyPI. Usage: validate_sarif.py SCHEMA LOG. Prints "valid" and exits 0,
or prints each schema error and exits 1 (2 when the files cannot be read)."""
import json
import sys

import jsonschema


def main() -> int:
    try:
        with open(sys.argv[1], encoding="utf-8") as f:
            schema = json.load(f)
        with open(sys.argv[2], encoding="utf-8") as f:
            log = json.load(f)
    except (OSError, ValueError, IndexError) as e:
        print(f"cannot read: {e}")
        return 2
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    errors = sorted(cls(schema).iter_errors(log), key=lambda e: list(e.absolute_path))
    for e in errors:
        print(f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message}")
    if errors:
        return 1
    print(f"valid ({cls.__name__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
