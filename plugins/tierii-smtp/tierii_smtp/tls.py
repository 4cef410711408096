"""The TLS context for SMTP connections, and what to tell a user whose certificate is refused."""

from __future__ import annotations

import ssl

from tierii_smtp.settings import SmtpSettings

OPT_OUT = "TIERII_SMTP_INSECURE_SKIP_VERIFY"


def client_context(settings: SmtpSettings) -> ssl.SSLContext | None:
    """Verifying context (system CAs, or ``CA_FILE`` instead); None when SECURITY is none.

    Hostname checking stays on with a private CA: the certificate must name ``HOST``.
    """
    if settings.security == "none":
        return None
    context = ssl.create_default_context(cafile=settings.ca_file or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if settings.insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def certificate_refused(settings: SmtpSettings, exc: ssl.SSLCertVerificationError) -> str:
    """Why the certificate was refused, and the two ways forward."""
    detail = exc.verify_message or exc.reason or str(exc)
    trusted = f"the CA in {settings.ca_file}" if settings.ca_file else "the system's CAs"
    return (
        f"the TLS certificate of {settings.where} was refused ({detail}; checked against {trusted}). "
        "If a private CA signed it, set TIERII_SMTP_CA_FILE to that CA's PEM file; "
        f"to skip verification (unsafe: anyone on the path can read and change your mail) set {OPT_OUT}=true"
    )


def handshake_failed(settings: SmtpSettings, exc: ssl.SSLError) -> str:
    hint = ""
    if settings.security == "ssl":
        hint = " (SECURITY=ssl expects TLS from the first byte, usually on port 465; use starttls for 587)"
    return f"TLS with {settings.where} failed: {exc.reason or exc}{hint}"


def describe(sock: ssl.SSLSocket) -> str:
    """``TLSv1.3, TLS_AES_256_GCM_SHA384, certificate for mail.example.com issued by X``."""
    parts = [sock.version() or "TLS", (sock.cipher() or ("?",))[0]]
    cert = sock.getpeercert()
    if cert:
        subject = _name(cert.get("subject", ()), "commonName")
        alt = ", ".join(v for k, v in cert.get("subjectAltName", ()) if k in ("DNS", "IP Address"))
        issuer = cert.get("issuer", ())
        by = _name(issuer, "organizationName") or _name(issuer, "commonName") or "?"
        until = cert.get("notAfter")
        parts.append(f"certificate for {subject or alt or '?'} issued by {by}, valid until {until}")
    else:
        parts.append(f"certificate NOT verified ({OPT_OUT}=true)")
    return ", ".join(parts)


def _name(rdns: tuple, key: str) -> str:
    return next((value for rdn in rdns for k, value in rdn if k == key), "")
