#!/usr/bin/env python3
"""Offline validation of the deployment manifests (no cluster, no network).

- Core Kubernetes kinds: kubernetes-validate's bundled schemas, strict (an unknown field
  fails, as `kubectl apply --validate=strict` would).
- KServe kinds: jsonschema against the openAPIV3Schema of the CRD in deploy/kserve/schemas,
  made strict the same way (unknown fields fail, except where the CRD preserves them),
  plus what the schema cannot say (known protocol names, an h2c port for gRPC).
- kustomization.yaml: every resource it lists must exist; it is then rendered (resources,
  labels, images, inline JSON 6902 patches) and every rendered object validated again, so
  an overlay's patches are checked too. A kustomization field this script cannot render
  is an error, never skipped.

Usage: validate_manifests.py [--self-test] DIR...   (exit 1 on any invalid manifest)
"""

import argparse
import copy
import pathlib
import re
import sys

import jsonschema
import kubernetes_validate
import yaml

K8S_VERSION = "1.30"  # oldest Kubernetes the manifests promise to work on
KSERVE_GROUP = "serving.kserve.io"
SCHEMA_DIR = pathlib.Path(__file__).resolve().parent.parent / "deploy" / "kserve" / "schemas"
# libyaml's loader when built in: the InferenceService CRD is 2 MB.
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
DNS_1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def strict(schema):
    """Forbids properties a structural schema does not declare (Kubernetes would prune
    them silently, which hides typos)."""
    if isinstance(schema, dict):
        for value in schema.values():
            strict(value)
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
    elif isinstance(schema, list):
        for value in schema:
            strict(value)
    return schema


def load_crd_schemas():
    schemas = {}
    for path in sorted(SCHEMA_DIR.glob("*.yaml")):
        crd = yaml.load(path.read_text(), Loader=LOADER)
        kind = crd["spec"]["names"]["kind"]
        group = crd["spec"]["group"]
        for version in crd["spec"]["versions"]:
            schema = strict(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
            schemas[(f"{group}/{version['name']}", kind)] = schema
    return schemas


class Validator:
    def __init__(self):
        self.crds = load_crd_schemas()
        self.failures = 0
        self.expecting_failure = False

    def fail(self, where, message):
        self.failures += 1
        print(f"{'rejected, as expected:' if self.expecting_failure else 'FAIL'} {where}: {message}")

    def check(self, obj, where):
        """Validates one object; returns True when it passed."""
        if not isinstance(obj, dict) or "apiVersion" not in obj or "kind" not in obj:
            self.fail(where, "not a Kubernetes object (apiVersion and kind required)")
            return False
        api, kind = obj["apiVersion"], obj["kind"]
        name = (obj.get("metadata") or {}).get("name", "")
        label = f"{where} {kind}/{name}"
        if not DNS_1123.match(name or ""):
            self.fail(label, f"metadata.name {name!r} is not a DNS-1123 name")
            return False
        if api.split("/")[0] == KSERVE_GROUP:
            schema = self.crds.get((api, kind))
            if schema is None:
                self.fail(label, f"no CRD schema for {api} {kind} in {SCHEMA_DIR}")
                return False
            errors = sorted(
                jsonschema.Draft4Validator(schema).iter_errors(obj), key=lambda e: list(e.path)
            )
            for e in errors:
                self.fail(label, f"{'.'.join(map(str, e.path)) or '<root>'}: {e.message}")
            problems = kserve_semantics(obj)
            for p in problems:
                self.fail(label, p)
            if errors or problems:
                return False
        else:
            try:
                kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
            except kubernetes_validate.ValidationError as e:
                self.fail(label, f"{'.'.join(map(str, e.path)) or '<root>'}: {e.message}")
                return False
            except kubernetes_validate.SchemaNotFoundError as e:
                self.fail(label, e.message)
                return False
        print(f"ok   {label}")
        return True

    def check_file(self, path):
        try:
            docs = [d for d in yaml.load_all(path.read_text(), Loader=LOADER) if d is not None]
        except yaml.YAMLError as e:
            self.fail(str(path), f"invalid YAML: {e}")
            return
        if not docs:
            self.fail(str(path), "no document")
        for doc in docs:
            if isinstance(doc, dict) and doc.get("kind") == "Kustomization":
                self.check_kustomization(path)
            else:
                self.check(doc, str(path))

    def check_kustomization(self, path):
        try:
            objects = render(path)
        except (RenderError, OSError, yaml.YAMLError, KeyError, IndexError, ValueError,
                TypeError) as e:
            self.fail(str(path), f"cannot render: {type(e).__name__}: {e}")
            return
        for obj in objects:
            self.check(obj, f"{path} (rendered)")


# KServe's InferenceServiceProtocol values (the CRD types them as plain strings).
KSERVE_PROTOCOLS = {"v1", "v2", "grpc-v1", "grpc-v2"}


def kserve_semantics(obj):
    """What the CRD schema cannot say: known protocol names, and a gRPC runtime's port
    named h2c (the name Knative and KServe recognise HTTP/2 cleartext by)."""
    spec = obj.get("spec") or {}
    problems = []
    if obj["kind"] in ("ServingRuntime", "ClusterServingRuntime"):
        versions = spec.get("protocolVersions") or []
        for v in versions:
            if v not in KSERVE_PROTOCOLS:
                problems.append(f"spec.protocolVersions: unknown protocol {v!r}")
        main = [c for c in spec.get("containers") or [] if c.get("name") == "kserve-container"]
        if not main:
            problems.append("spec.containers: no container named kserve-container")
        elif any(v.startswith("grpc-") for v in versions):
            if not any(p.get("name") == "h2c" for p in main[0].get("ports") or []):
                problems.append("a grpc protocol is listed but kserve-container has no port named h2c")
    if obj["kind"] == "InferenceService":
        model = (spec.get("predictor") or {}).get("model") or {}
        if model.get("protocolVersion", "v1") not in KSERVE_PROTOCOLS:
            problems.append(f"spec.predictor.model.protocolVersion: unknown protocol "
                            f"{model['protocolVersion']!r}")
    return problems


class RenderError(Exception):
    pass


KUSTOMIZE_FIELDS = {"apiVersion", "kind", "resources", "patches", "labels", "images", "namespace"}


def render(path):
    """The objects `kubectl kustomize` would output, for the subset of kustomize used here."""
    k = yaml.load(path.read_text(), Loader=LOADER)
    unknown = set(k) - KUSTOMIZE_FIELDS
    if unknown:
        raise RenderError(f"fields this validator cannot render: {sorted(unknown)}")
    base = path.parent
    objects = []
    for res in k.get("resources", []):
        target = (base / res).resolve()
        if target.is_dir():
            objects += render(target / "kustomization.yaml")
        elif target.is_file():
            objects += [d for d in yaml.load_all(target.read_text(), Loader=LOADER) if d is not None]
        else:
            raise RenderError(f"resource {res} does not exist")
    for patch in k.get("patches", []):
        if set(patch) != {"target", "patch"}:
            raise RenderError("only inline patches with a target are supported")
        ops = yaml.safe_load(patch["patch"])
        matched = [o for o in objects if matches(o, patch["target"])]
        if not matched:
            raise RenderError(f"patch target {patch['target']} matches nothing")
        for obj in matched:
            for op in ops:
                json_patch(obj, op)
    for entry in k.get("labels", []):
        if set(entry) - {"pairs"}:
            raise RenderError("labels: only plain pairs (no selectors or templates) are supported")
        for obj in objects:
            obj.setdefault("metadata", {}).setdefault("labels", {}).update(entry["pairs"])
    for image in k.get("images", []):
        for obj in objects:
            for c in containers(obj):
                if c.get("image", "").split(":")[0] == image["name"]:
                    repo = image.get("newName", image["name"])
                    c["image"] = f"{repo}:{image.get('newTag', c['image'].partition(':')[2])}"
    if "namespace" in k:
        for obj in objects:
            obj.setdefault("metadata", {})["namespace"] = k["namespace"]
    return objects


def containers(obj):
    spec = obj.get("spec", {}).get("template", {}).get("spec", {})
    return spec.get("containers", [])


def matches(obj, target):
    return all(
        (obj.get("metadata", {}).get("name") if key == "name" else obj.get(key)) == value
        for key, value in target.items()
    )


def json_patch(doc, op):
    """RFC 6902 add / replace / remove / test on one document."""
    parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
    parent = doc
    for part in parts[:-1]:
        parent = parent[int(part)] if isinstance(parent, list) else parent[part]
    last = parts[-1]
    kind = op["op"]
    if isinstance(parent, list):
        index = len(parent) if last == "-" else int(last)
        if kind == "add":
            parent.insert(index, op["value"])
        elif kind == "replace":
            parent[index] = op["value"]
        elif kind == "remove":
            del parent[index]
        elif kind == "test":
            if parent[index] != op["value"]:
                raise RenderError(f"test failed at {op['path']}")
        else:
            raise RenderError(f"unsupported op {kind}")
    else:
        if kind in ("add", "replace"):
            if kind == "replace" and last not in parent:
                raise RenderError(f"replace of missing {op['path']}")
            parent[last] = op["value"]
        elif kind == "remove":
            del parent[last]
        elif kind == "test":
            if parent.get(last) != op["value"]:
                raise RenderError(f"test failed at {op['path']}")
        else:
            raise RenderError(f"unsupported op {kind}")


def manifest_files(dirs):
    for d in dirs:
        for path in sorted(pathlib.Path(d).rglob("*.y*ml")):
            if "schemas" not in path.parts and path.suffix in (".yaml", ".yml"):
                yield path


def self_test(v, dirs):
    """Broken copies of the real manifests must fail: a validator that passes anything
    would make CI green for nothing."""
    originals = {}
    for path in manifest_files(dirs):
        for doc in yaml.load_all(path.read_text(), Loader=LOADER):
            if isinstance(doc, dict) and doc.get("kind") in (
                "Deployment", "Service", "ClusterServingRuntime", "InferenceService"
            ):
                originals[doc["kind"]] = doc
    breakages = {
        "Deployment": lambda d: d["spec"].__setitem__("replicas", "two"),
        "Service": lambda d: d["spec"]["ports"][0].__setitem__("prot", "TCP"),
        "ClusterServingRuntime": lambda d: d["spec"].__setitem__("protocolVersion", ["v2"]),
        "InferenceService": lambda d: d["spec"]["predictor"]["model"].__setitem__(
            "storageUri", ["s3://not-a-string"]
        ),
    }
    missing = set(breakages) - set(originals)
    if missing:
        print(f"SELF-TEST FAILED: no {sorted(missing)} manifest found to break")
        return False
    ok = True
    for kind, breaker in breakages.items():
        broken = copy.deepcopy(originals[kind])
        breaker(broken)
        before = v.failures
        v.expecting_failure = True
        passed = v.check(broken, "self-test, broken on purpose")
        v.expecting_failure = False
        if passed:
            print(f"SELF-TEST FAILED: a broken {kind} passed validation")
            ok = False
        v.failures = before
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+")
    parser.add_argument("--self-test", action="store_true",
                        help="also check that broken copies of the manifests fail")
    args = parser.parse_args()
    v = Validator()
    files = list(manifest_files(args.dirs))
    if not files:
        print(f"FAIL: no manifests under {args.dirs}")
        return 1
    for path in files:
        v.check_file(path)
    if args.self_test and not self_test(v, args.dirs):
        return 1
    if v.failures:
        print(f"{v.failures} manifest error(s)")
        return 1
    print(f"{len(files)} manifest files valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
