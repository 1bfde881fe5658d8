"""``styledomain project info FILE [--json]``: what a ``.sdproj`` project holds and whether its files are found."""

from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("project", help="StyleDomain Studio project files (.sdproj)")
    verbs = p.add_subparsers(dest="action", metavar="ACTION")
    verbs.required = True
    info = verbs.add_parser("info", help="the model, latent, directions and referenced files of a project")
    info.add_argument("file", metavar="FILE")
    info.add_argument("--json", action="store_true", help="one JSON object")
    info.set_defaults(handler=run_info)


def run_info(args) -> int:
    from engine.pipeline.project import find_project_files, load_project, project_summary

    project = load_project(args.file)
    found = find_project_files(project, args.file)
    summary = project_summary(project)
    for i, f in enumerate(summary["files"]):
        f["found"] = str(found.found[i]) if i in found.found else None
    if args.json:
        print(json.dumps(summary, indent=1))
        return 0
    m = summary["model"]
    print(f"project  {args.file} (saved {summary['saved_at'] or 'unknown'})")
    print(f"model    {m['name']} sha256 {m['sha256'][:12]} layout {m['layout_fingerprint']}")
    print(f"latent   {summary['latent']}")
    print(f"edit     strength {summary['strength']} psi {summary['psi']}")
    for d in summary["directions"]:
        print(f"direction {d['name']} weight {d['weight']} layers {d['layers']}")
    for d in summary["param_deltas"]:
        print(f"delta    {d['name']} weight {d['weight']}")
    for f in summary["files"]:
        where = f["found"] or ("MISSING" if f["required"] else "not found (optional)")
        print(f"file     {f['role']} {f['name']}: {where}")
    return 0
