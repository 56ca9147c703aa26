"""Reject answers that would bake a broken project, with one sentence on what to type instead.

Cookiecutter renders this file before running it; the answers arrive as one JSON
string, so quotes or backslashes in an answer stay data.
"""

import json
import keyword
import re
import sys

ANSWERS = json.loads(r"""{{ cookiecutter | tojson }}""")

EXAMPLE_COLUMNS = {
    "customer_id", "gender", "age_group", "tenure_months", "contract", "internet_service",
    "payment_method", "paperless_billing", "monthly_charges", "total_charges",
    "support_calls",
}  # fmt: skip
# The example data's target for each task (src/PACKAGE/data/example.py makes all three).
EXAMPLE_TARGETS = {
    "binary_classification": "churned",
    "multiclass_classification": "next_plan",
    "regression": "data_usage_gb",
}
PYTHON_VERSIONS = ("3.11", "3.12", "3.13")
CRON = r"[0-9A-Za-z*/,-]+( [0-9A-Za-z*/,-]+){4}"  # five fields, nothing YAML could misread


def sensitive_list(answers):
    return [name.strip() for name in answers["sensitive_features"].split(",") if name.strip()]


def problems(answers):
    """Yield one sentence per bad answer."""
    project, package = answers["project"], answers["package"]
    if not re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", project):
        yield (
            f"project {project!r} is not a valid repository slug: type lower-case letters, "
            "digits and single hyphens, starting with a letter (for example churn-model)."
        )
    if not package.isidentifier() or keyword.iskeyword(package) or package != package.lower():
        yield (
            f"package {package!r} is not a Python import name: type lower-case letters, digits "
            "and underscores, starting with a letter (for example churn_model)."
        )
    if answers["python_version"] not in PYTHON_VERSIONS:
        yield (
            f"python_version {answers['python_version']!r} is not supported: "
            f"type one of {', '.join(PYTHON_VERSIONS)}."
        )
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", answers["author_email"]):
        yield (
            f"author_email {answers['author_email']!r} is not an e-mail address: "
            "type one like team@example.com."
        )
    target = answers["target_column"].strip()
    if not target:
        hint = "the label column of your CSV" if answers["dataset"] == "custom" else "churned"
        yield f"target_column is empty: type the column to predict ({hint})."
    task = answers["task"]
    if task == "binary_classification" and not answers["positive_class"].strip():
        yield (
            "positive_class is empty: type the target value that counts as the positive class "
            "(for example yes)."
        )
    if task != "binary_classification" and answers["positive_class"].strip():
        yield (
            f"positive_class {answers['positive_class']!r} applies only to "
            f"binary_classification: leave it empty for task={task}, or choose "
            "task=binary_classification."
        )
    sensitive = sensitive_list(answers)
    if target and target in sensitive:
        yield (
            f"sensitive_features includes the target {target!r}: type only the protected "
            "attributes (for example gender,age_group)."
        )
    if len(set(sensitive)) != len(sensitive):
        yield "sensitive_features lists a column twice: type each column once."
    if answers["dataset"] == "example":
        yield from example_problems(answers, target, sensitive)
    if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", answers["actions_repo"]):
        yield (
            f"actions_repo {answers['actions_repo']!r} is not owner/name: "
            "type it like your-org/cookiecutter-mlops-gitops."
        )
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_./-]*", answers["actions_ref"]):
        yield (
            f"actions_ref {answers['actions_ref']!r} is not a git ref: "
            "type a tag such as v1 or a commit SHA."
        )
    pinned_to = answers["__actions_at"]  # the template's commit (local_extensions.py)
    if answers["actions_pin"] == "sha" and not re.fullmatch(r"[0-9a-f]{40}", pinned_to):
        yield (
            "actions_pin sha pins the Actions to the template's commit, but this template is "
            "not a git checkout: bake from a git clone (or gh:OWNER/REPO), or type tag for "
            f"actions_pin to call the Actions by the tag actions_ref ({answers['actions_ref']})."
        )
    if not re.fullmatch(CRON, answers["drift_schedule"].strip()):
        yield (
            f"drift_schedule {answers['drift_schedule']!r} is not a cron schedule: type five "
            "fields, minute hour day-of-month month day-of-week, such as 17 6 * * * (daily)."
        )


def example_problems(answers, target, sensitive):
    task = answers["task"]
    wanted = EXAMPLE_TARGETS[task]
    if target != wanted:
        yield (
            f"target_column {target!r} is not the example data's target for task={task}: "
            f"type {wanted}, or choose dataset=custom for your own CSV."
        )
    if task == "binary_classification" and answers["positive_class"] != "yes":
        yield (
            "positive_class must be yes for the example data (its churned column holds yes/no): "
            "keep yes, or choose dataset=custom."
        )
    unknown = [name for name in sensitive if name not in EXAMPLE_COLUMNS]
    if unknown:
        yield (
            f"sensitive_features {', '.join(unknown)} are not columns of the example data: "
            "type gender, age_group or both, or choose dataset=custom."
        )
    if not sensitive:
        yield "sensitive_features is empty: type gender,age_group for the example data."


def main():
    found = list(problems(ANSWERS))
    for sentence in found:
        print(f"ERROR: {sentence}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
