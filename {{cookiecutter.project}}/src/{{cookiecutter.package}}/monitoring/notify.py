"""`notify`: tell the team what the loop did, where it already is (Slack, Teams, e-mail, a
webhook...), through apprise. The destinations are one secret, NOTIFY_URLS: apprise URLs
separated by spaces, commas or new lines (https://github.com/caronc/apprise/wiki lists the
services). Unset or empty, nothing is sent and the verb succeeds: notifications are opt-in.
"""

import os
import re

from ..config import CliError
from ..reports import write_report

VARIABLE = "NOTIFY_URLS"
PROJECT = {{ cookiecutter.project | tojson }}
# event -> the title; {env} and {version} come from the arguments.
EVENTS = {
    "drift": "Drift detected in the {env} data",
    "decay": "Live performance of version {version} in {env} decayed",
    "deploy-failed": "Deploy of version {version} to {env} failed",
    "promotion": "Promotion PR opened: version {version} to {env}",
}


def destinations(text):
    """The URLs of NOTIFY_URLS, in order."""
    return [url for url in re.split(r"[\s,]+", text or "") if url]


def message(args):
    """(title, body) of a notification: what happened, to which version, and the link."""
    title = f"{PROJECT}: " + EVENTS[args.event].format(env=args.env, version=args.version)
    lines = [f"Version: {args.version}", f"Environment: {args.env}"]
    if args.detail:
        lines.insert(0, args.detail)
    if args.link:
        lines.append(f"Details: {args.link}")
    return title, "\n".join(lines)


def sender(urls):
    """An apprise sender for these URLs; CliError naming the first one apprise cannot read."""
    import apprise

    found = apprise.Apprise()
    for place, url in enumerate(urls, start=1):
        if not found.add(url):
            scheme = url.split("://", 1)[0] if "://" in url else url[:12]
            raise CliError(
                f"Entry {place} of {VARIABLE} (starting {scheme!r}) is not a notification URL "
                "apprise knows: write it as SERVICE://..., e.g. json://host/path or "
                "slack://TOKEN_A/TOKEN_B/TOKEN_C."
            )
    return found


def notify(args):
    urls = destinations(os.environ.get(VARIABLE))
    title, body = message(args)
    result = {"event": args.event, "version": args.version, "env": args.env, "link": args.link,
              "title": title, "destinations": len(urls), "sent": False}  # fmt: skip
    if not urls:
        write_report("notify", result, f"## Not sent: {VARIABLE} is not set\n\n{title}\n")
        print(f"{VARIABLE} is not set: no notification sent ({title}).")
        return
    if not sender(urls).notify(title=title, body=body):
        raise CliError(
            f"Could not deliver the notification to every one of the {len(urls)} destinations "
            f"of {VARIABLE}: see apprise's log lines above for which and why."
        )
    result["sent"] = True
    write_report("notify", result, f"## Sent to {len(urls)} destinations\n\n{title}\n\n{body}\n")
    print(f"Notified {len(urls)} destinations: {title}.")


def add_arguments(parser):
    parser.add_argument("--event", required=True, choices=sorted(EVENTS), help="what happened")
    parser.add_argument("--version", required=True, help="the model version it concerns")
    parser.add_argument("--env", default="production", help="the environment (default production)")
    parser.add_argument("--link", help="where to read more: the report, the PR or the run")
    parser.add_argument("--detail", help="one more line of explanation")


run = notify
