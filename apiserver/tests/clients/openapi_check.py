"""drover's /v1/openapi.json checked by real tools: openapi-spec-validator
says whether it is a valid OpenAPI 3.1 document, then jsonschema validates
answers the Rust test got from a live server against the schemas the
document gives their routes (200, or `default` for errors).
Usage: python3 openapi_check.py DOCUMENT.json ANSWERS.json, where ANSWERS
is a list of {"method", "path" (the route template), "status", "body"}.
Exits non-zero naming the first answer its schema refuses."""

import json
import sys

import jsonschema
from openapi_spec_validator import validate


def main():
    with open(sys.argv[1]) as f:
        doc = json.load(f)
    with open(sys.argv[2]) as f:
        answers = json.load(f)
    validate(doc)
    for a in answers:
        op = doc["paths"][a["path"]][a["method"]]
        status = "200" if a["status"] < 300 else "default"
        schema = dict(op["responses"][status]["content"]["application/json"]["schema"])
        # Component references (#/components/schemas/...) resolve from here.
        schema["components"] = doc["components"]
        try:
            jsonschema.Draft202012Validator(schema).validate(a["body"])
        except jsonschema.ValidationError as e:
            where = "/".join(str(p) for p in e.absolute_path)
            sys.exit(f"{a['method']} {a['path']} ({a['status']}): at {where or 'the top'}: {e.message}")
    print(f"openapi: the document is valid; {len(answers)} answers match their schemas")


if __name__ == "__main__":
    main()
