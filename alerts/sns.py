"""AWS SNS: signature verification at accept, and subscription confirmation during processing.

SNS signs each message with an RSA key whose certificate it publishes on an `sns.<region>`
host. Checking the signature needs that certificate, so the URL an envelope names is trusted
only when it is https on a host matching IOC_SNS_ALLOWED_HOSTS: anyone can sign with a
certificate they host themselves. The same rule guards the SubscribeURL, which we GET.
"""

import base64
import binascii
import http.client
import logging
import re
import ssl
import threading
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from django.conf import settings

from .sources import PayloadError
from .sources.cloudwatch import signing_string

log = logging.getLogger(__name__)

FETCH_TIMEOUT = 5  # seconds, per fetch; a certificate fetch happens inside the webhook request
MAX_RESPONSE_BYTES = 64 * 1024  # a PEM certificate is ~2 KB; anything this big is not one
CACHE_SIZE = 32  # SNS rotates certificates rarely: a handful of URLs per region in use at once
HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}
SUBSCRIPTION_ARN = re.compile(r"<SubscriptionArn>\s*([^<\s]+)\s*</SubscriptionArn>")
ERROR_MESSAGE = re.compile(r"<Message>\s*([^<]{1,300}?)\s*</Message>")

_certificates: OrderedDict[str, x509.Certificate] = OrderedDict()
_certificates_lock = threading.Lock()


class SignatureError(ValueError):
    """The SNS envelope is not signed by AWS (or its signature cannot be checked)."""


class CertificateUnavailable(SignatureError):
    """The signing certificate could not be fetched (network, TLS, AWS answering an error).

    Still a SignatureError, so the webhook refuses the delivery; kept apart because, unlike a
    bad signature, it is not necessarily the sender's fault.
    """


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # The host check applies to the URL we were given; following a redirect would fetch from
    # a host nobody checked.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise urllib.error.HTTPError(
            req.full_url, code, f"redirect to another URL refused ({code})", headers, fp
        )


def sns_verify(envelope: Mapping[str, Any]) -> None:
    """Raise SignatureError unless the envelope carries a valid SNS signature.

    With IOC_SNS_VERIFY_SIGNATURES off this checks nothing: that is for local experiments with
    hand-written envelopes only, never for an IOC reachable from the internet.
    """
    if not settings.IOC_SNS_VERIFY_SIGNATURES:
        return
    if not isinstance(envelope, Mapping):
        raise SignatureError("the body is not an SNS message (a JSON object)")
    version = envelope.get("SignatureVersion")
    if version is None:
        raise SignatureError("the SNS message has no 'SignatureVersion'")
    if not isinstance(version, str) or version not in HASHES:
        raise SignatureError(f"unsupported SignatureVersion {version!r}: expected '1' or '2'")
    signature = _signature(envelope.get("Signature"))
    cert_url = envelope.get("SigningCertURL")
    if not isinstance(cert_url, str) or not cert_url:
        raise SignatureError("the SNS message has no 'SigningCertURL'")
    try:
        signed = signing_string(envelope)
    except PayloadError as exc:
        raise SignatureError(str(exc)) from exc
    _check_url(cert_url, what="SigningCertURL")
    if not urlsplit(cert_url).path.endswith(".pem"):
        raise SignatureError("SigningCertURL must point to a .pem certificate")
    certificate = _certificate(cert_url)
    now = datetime.now(UTC)
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise SignatureError(
            "the signing certificate is not valid now (valid "
            f"{certificate.not_valid_before_utc:%Y-%m-%d} to "
            f"{certificate.not_valid_after_utc:%Y-%m-%d})"
        )
    public_key = certificate.public_key()
    if not isinstance(public_key, RSAPublicKey):
        raise SignatureError("the signing certificate does not hold an RSA key")
    try:
        public_key.verify(signature, signed, padding.PKCS1v15(), HASHES[version]())
    except InvalidSignature as exc:
        raise SignatureError("the signature does not match the message") from exc


def sns_confirm_subscription(*, subscribe_url: str) -> dict:
    """Confirm a subscription by fetching its SubscribeURL; returns what to record.

    Never raises: whatever goes wrong is returned as {"confirmed": False, "error": ...} to be
    kept on the delivery (the URL itself is not, as its Token confirms the subscription).
    """
    try:
        _check_url(subscribe_url, what="SubscribeURL")
    except SignatureError as exc:
        return {"confirmed": False, "error": str(exc)}
    try:
        body = _fetch(subscribe_url)
    except urllib.error.HTTPError as exc:
        detail = _error_message(exc)
        error = f"SNS answered HTTP {exc.code}" + (f": {detail}" if detail else "")
        log.warning("SNS subscription confirmation failed: %s", error)
        return {"confirmed": False, "error": error}
    except Exception as exc:
        # Called while a batch of deliveries is processed: a raise here would abort the whole
        # batch, so any failure (network, TLS, a malformed URL) is only recorded.
        error = f"could not reach SNS: {_reason(exc)}"
        log.warning("SNS subscription confirmation failed: %s", error)
        return {"confirmed": False, "error": error}
    result: dict[str, Any] = {"confirmed": True}
    match = SUBSCRIPTION_ARN.search(body.decode("utf-8", "replace"))
    if match:
        result["subscription_arn"] = match.group(1)
    log.info("SNS subscription confirmed: %s", result.get("subscription_arn", "(no ARN)"))
    return result


def sns_cache_clear() -> None:
    """Forget the cached signing certificates (tests; a rotated CA bundle)."""
    with _certificates_lock:
        _certificates.clear()


def _signature(value: Any) -> bytes:
    if value is None:
        raise SignatureError("the SNS message has no 'Signature'")
    if not isinstance(value, str) or not value:
        raise SignatureError("SNS 'Signature' must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError("SNS 'Signature' is not valid base64") from exc


def _check_url(url: Any, *, what: str) -> None:
    if not isinstance(url, str):
        raise SignatureError(f"{what} must be a string")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a malformed port)
    except ValueError as exc:
        raise SignatureError(f"{what} is not a valid URL") from exc
    if parts.scheme != "https":
        raise SignatureError(f"{what} must use https")
    host = parts.hostname or ""
    # fullmatch: a pattern written without anchors must not accept sns.x.amazonaws.com.evil.org
    if not host or not re.fullmatch(settings.IOC_SNS_ALLOWED_HOSTS, host):
        raise SignatureError(f"{what} host {host!r} is not allowed")


def _certificate(url: str) -> x509.Certificate:
    with _certificates_lock:
        certificate = _certificates.get(url)
        if certificate is not None:
            _certificates.move_to_end(url)
            return certificate
    # Fetched outside the lock: one slow fetch must not hold up deliveries with cached certs.
    try:
        data = _fetch(url)
    except urllib.error.HTTPError as exc:
        raise CertificateUnavailable(
            f"fetching the signing certificate answered HTTP {exc.code}"
        ) from exc
    except (OSError, ValueError, http.client.HTTPException) as exc:
        raise CertificateUnavailable(
            f"could not fetch the signing certificate: {_reason(exc)}"
        ) from exc
    try:
        certificate = x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise SignatureError("SigningCertURL does not serve a PEM certificate") from exc
    with _certificates_lock:
        _certificates[url] = certificate
        _certificates.move_to_end(url)
        while len(_certificates) > CACHE_SIZE:
            _certificates.popitem(last=False)
    return certificate


def _fetch(url: str) -> bytes:
    """GET an https URL with IOC's CA settings, no redirects, a timeout and a size cap."""
    bundle = settings.IOC_SNS_CA_BUNDLE or None
    context = ssl.create_default_context(cafile=bundle)
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=context), _NoRedirect()
    )
    request = urllib.request.Request(url, headers={"User-Agent": "IOC"})  # noqa: S310 (https checked)
    with opener.open(request, timeout=FETCH_TIMEOUT) as response:
        if response.status != 200:
            raise urllib.error.HTTPError(url, response.status, "not 200", response.headers, None)
        body = response.read(MAX_RESPONSE_BYTES + 1)
    if len(body) > MAX_RESPONSE_BYTES:
        raise ValueError(f"response larger than {MAX_RESPONSE_BYTES} bytes")
    return body


def _error_message(exc: urllib.error.HTTPError) -> str:
    try:
        body = exc.read(MAX_RESPONSE_BYTES) if exc.fp is not None else b""
    except Exception:
        return ""  # the status alone is worth recording; the body is a bonus
    match = ERROR_MESSAGE.search(body.decode("utf-8", "replace"))
    return match.group(1) if match else ""


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)  # URLError wraps the socket or TLS error
    return str(reason or exc) or type(exc).__name__
