"""SMTP relay with AUTH for email_notifier_test, built on aiosmtpd (whose CLI has no AUTH).

Listens on 127.0.0.1 on two ports: --port offers AUTH PLAIN and LOGIN, --login-port only
LOGIN. Both require AUTH (over plain TCP: loopback only), accept the one user whose password
is in --password-file, and store messages in the Maildir --maildir. Recipients whose local part
starts with "reject" get 550, "tempfail" 451. Prints "ready" once both listen and one line per
AUTH attempt ("auth <mechanism> <user> ok|failed"). Runs until SIGTERM.
"""

import argparse
import signal
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword


class Relay(Mailbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0]
        if local.startswith("reject"):
            return "550 5.1.1 <%s>: recipient address rejected" % address
        if local.startswith("tempfail"):
            return "451 4.3.0 <%s>: temporary failure, try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--login-port", type=int, required=True)
    parser.add_argument("--maildir", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password-file", required=True)
    args = parser.parse_args()
    with open(args.password_file, "rb") as f:
        password = f.read().strip()
    user = args.user.encode()

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == user
              and auth_data.password == password)
        login = auth_data.login.decode(errors="replace") if isinstance(auth_data, LoginPassword) else "?"
        print("auth %s %s %s" % (mechanism, login, "ok" if ok else "failed"), flush=True)
        return AuthResult(success=ok, handled=False)

    controllers = []
    for port, exclude in ((args.port, []), (args.login_port, ["PLAIN"])):
        c = Controller(Relay(args.maildir), hostname="127.0.0.1", port=port,
                       authenticator=authenticator, auth_required=True,
                       auth_require_tls=False, auth_exclude_mechanism=exclude)
        c.start()
        controllers.append(c)
    print("ready", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    for c in controllers:
        c.stop()
    return 0


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    sys.exit(main())
