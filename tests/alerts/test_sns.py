"""SNS signatures and subscription confirmation, against a local HTTPS server standing in for
AWS: it serves our own signing certificate and answers ConfirmSubscription, with a TLS
certificate from a throwaway CA that IOC_SNS_CA_BUNDLE points at."""

import base64
import datetime as dt
import ipaddress
import json
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from alerts import sns
from alerts.models import Alert, InboundEvent
from alerts.services import integration_create
from incidents.models import Incident
from tests.base import post_alert, process
from tests.live import free_port

CERT_PATH = "/SimpleNotificationService-test.pem"
EXPIRED_CERT_PATH = "/SimpleNotificationService-expired.pem"
TOPIC_ARN = "arn:aws:sns:eu-west-1:123456789012:ioc-alarms"
SUBSCRIPTION_ARN = f"{TOPIC_ARN}:0f6a4b1e-7c2d-4e8f-9a3b-5d6c7e8f9a0b"
CONFIRM_RESPONSE = f"""<ConfirmSubscriptionResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <ConfirmSubscriptionResult>
    <SubscriptionArn>{SUBSCRIPTION_ARN}</SubscriptionArn>
  </ConfirmSubscriptionResult>
  <ResponseMetadata><RequestId>5e1f7a9c-0000-4000-8000-000000000001</RequestId></ResponseMetadata>
</ConfirmSubscriptionResponse>"""
TEXT_PLAIN = "text/plain; charset=UTF-8"


# --- a throwaway PKI ----------------------------------------------------------------------------


@dataclass
class Pki:
    ca_file: Path
    server_cert_file: Path
    server_key_file: Path
    signing_key: rsa.RSAPrivateKey
    signing_pem: bytes
    expired_pem: bytes


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    *,
    subject: str,
    key: rsa.RSAPrivateKey,
    issuer: x509.Certificate | None = None,
    issuer_key: rsa.RSAPrivateKey | None = None,
    valid_from: dt.datetime | None = None,
    valid_days: int = 2,
    extensions: tuple = (),
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    valid_from = valid_from or now - dt.timedelta(hours=1)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer.subject if issuer else _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_from + dt.timedelta(days=valid_days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key()), critical=False
        )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(issuer_key or key, hashes.SHA256())


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    folder = tmp_path_factory.mktemp("sns-pki")
    ca_key = _key()
    ca = _certificate(
        subject="IOC test CA",
        key=ca_key,
        extensions=(
            (x509.BasicConstraints(ca=True, path_length=0), True),
            (
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                True,
            ),
        ),
    )
    server_key = _key()
    server = _certificate(
        subject="127.0.0.1",
        key=server_key,
        issuer=ca,
        issuer_key=ca_key,
        extensions=(
            (
                x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
                ),
                False,
            ),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
        ),
    )
    signing_key = _key()
    signing = _certificate(subject="sns.eu-west-1.amazonaws.com", key=signing_key)
    expired = _certificate(
        subject="sns.eu-west-1.amazonaws.com",
        key=signing_key,
        valid_from=dt.datetime.now(dt.UTC) - dt.timedelta(days=30),
    )
    ca_file = folder / "ca.pem"
    ca_file.write_bytes(_pem(ca))
    server_cert_file = folder / "server.pem"
    server_cert_file.write_bytes(_pem(server))
    server_key_file = folder / "server-key.pem"
    server_key_file.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Pki(
        ca_file=ca_file,
        server_cert_file=server_cert_file,
        server_key_file=server_key_file,
        signing_key=signing_key,
        signing_pem=_pem(signing),
        expired_pem=_pem(expired),
    )


# --- a local stand-in for AWS -------------------------------------------------------------------


class FakeAws:
    def __init__(self, pki: Pki):
        self.port = free_port()
        self.hits: list[str] = []  # the path and query of every request received
        pages = {CERT_PATH: pki.signing_pem, EXPIRED_CERT_PATH: pki.expired_pem}
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                hits.append(self.path)
                url = urlsplit(self.path)
                if url.path in pages:
                    self._answer(200, pages[url.path], "application/x-pem-file")
                elif url.path == "/" and "Action=ConfirmSubscription" in url.query:
                    self._answer(200, CONFIRM_RESPONSE.encode(), "text/xml")
                else:
                    self._answer(404, b"<Error><Message>Not Found</Message></Error>", "text/xml")

            def _answer(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format, *args):
                pass

        self.httpd = HTTPServer(("127.0.0.1", self.port), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pki.server_cert_file, pki.server_key_file)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        # A short poll interval: shutdown() waits for the next poll, 0.5 s by default.
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def url(self, path: str, *, host: str = "127.0.0.1", scheme: str = "https") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    def subscribe_url(self, *, host: str = "127.0.0.1", port: int | None = None) -> str:
        query = f"?Action=ConfirmSubscription&TopicArn={TOPIC_ARN}&Token=2336412f37fb687f5d51e6e2"
        return f"https://{host}:{port or self.port}/{query}"

    def hits_on(self, path: str) -> int:
        return sum(1 for hit in self.hits if urlsplit(hit).path == path)

    def confirmations(self) -> int:
        return sum(1 for hit in self.hits if "Action=ConfirmSubscription" in hit)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def aws(pki, settings) -> Iterator[FakeAws]:
    settings.IOC_SNS_ALLOWED_HOSTS = r"^127\.0\.0\.1$"
    settings.IOC_SNS_CA_BUNDLE = str(pki.ca_file)
    settings.IOC_SNS_VERIFY_SIGNATURES = True
    sns.sns_cache_clear()
    server = FakeAws(pki)
    yield server
    server.stop()
    sns.sns_cache_clear()


@pytest.fixture
def cloudwatch(floor) -> str:
    _, token = integration_create(name="CloudWatch", kind="cloudwatch", team=floor.first_line)
    return token


# --- envelopes ----------------------------------------------------------------------------------

# What SNS signs, written out here from the AWS documentation rather than taken from the parser,
# so that a mistake in either shows up as a refused signature.
SIGNED = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}


def sign(envelope: dict, pki: Pki, *, cert_url: str, version: str = "2") -> dict:
    envelope = {**envelope, "SignatureVersion": version, "SigningCertURL": cert_url}
    text = "".join(
        f"{key}\n{envelope[key]}\n" for key in SIGNED[envelope["Type"]] if key in envelope
    )
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303  (SNS v1)
    signature = pki.signing_key.sign(text.encode(), padding.PKCS1v15(), algorithm)
    envelope["Signature"] = base64.b64encode(signature).decode()
    return envelope


def notification(name: str = "orders-api-5xx") -> dict:
    alarm = {
        "AlarmName": name,
        "AlarmDescription": "Orders API 5xx above 50/min. severity=high service=orders",
        "AWSAccountId": "123456789012",
        "NewStateValue": "ALARM",
        "NewStateReason": "Threshold Crossed: 1 datapoint [73.0] was greater than 50.0",
        "StateChangeTime": "2026-11-25T10:00:00.000+0000",
        "Region": "EU (Ireland)",
        "AlarmArn": f"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:{name}",
        "OldStateValue": "OK",
        "Trigger": {
            "MetricName": "5XXError",
            "Namespace": "AWS/ApiGateway",
            "Dimensions": [{"name": "ApiName", "value": "orders"}],
        },
    }
    return {
        "Type": "Notification",
        "MessageId": "7f0c2c1e-9b7a-5d3e-8f41-2a6b9c0d1e2f",
        "TopicArn": TOPIC_ARN,
        "Subject": f'ALARM: "{name}" in EU (Ireland)',
        "Message": json.dumps(alarm),
        "Timestamp": "2026-11-25T10:00:01.123Z",
    }


def subscription_confirmation(subscribe_url: str) -> dict:
    return {
        "Type": "SubscriptionConfirmation",
        "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": "2336412f37fb687f5d51e6e2",
        "TopicArn": TOPIC_ARN,
        "Message": f"You have chosen to subscribe to the topic {TOPIC_ARN}.\n"
        "To confirm the subscription, visit the SubscribeURL included in this message.",
        "SubscribeURL": subscribe_url,
        "Timestamp": "2026-11-25T09:59:00.000Z",
    }


def post(client, token: str, envelope: dict):
    return post_alert(client, token, json.dumps(envelope), content_type=TEXT_PLAIN)


def assert_refused(response, *, mentions: str, status: int = 401) -> None:
    assert response.status_code == status
    assert mentions in response.json()["error"]
    assert InboundEvent.objects.count() == 0


def assert_retry_later(response, *, mentions: str) -> None:
    """Our side could not get the certificate: a 503 that SNS retries, not a 4xx it drops."""
    assert_refused(response, mentions=mentions, status=503)
    assert int(response["Retry-After"]) > 0


# --- notifications ------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1", "2"])
def test_it_accepts_a_signed_notification(client, aws, pki, cloudwatch, version):
    envelope = sign(notification(), pki, cert_url=aws.url(CERT_PATH), version=version)
    response = post(client, cloudwatch, envelope)
    assert response.status_code == 202, response.content
    process()
    alert = Alert.objects.get()
    assert alert.name == "orders-api-5xx"
    assert alert.severity == "high"
    assert Incident.objects.count() == 1


def test_it_refuses_a_tampered_message(client, aws, pki, cloudwatch):
    envelope = sign(notification(), pki, cert_url=aws.url(CERT_PATH))
    envelope["Message"] = envelope["Message"].replace("ALARM", "OK")
    assert_refused(post(client, cloudwatch, envelope), mentions="signature does not match")


def test_it_refuses_a_signature_of_the_wrong_version(client, aws, pki, cloudwatch):
    envelope = sign(notification(), pki, cert_url=aws.url(CERT_PATH), version="1")
    envelope["SignatureVersion"] = "2"
    assert_refused(post(client, cloudwatch, envelope), mentions="signature does not match")


def test_it_does_not_fetch_from_a_host_not_allowed(client, aws, pki, cloudwatch):
    # localhost reaches the same server, so a request would show in its hits.
    envelope = sign(notification(), pki, cert_url=aws.url(CERT_PATH, host="localhost"))
    assert_refused(post(client, cloudwatch, envelope), mentions="host 'localhost' is not allowed")
    assert aws.hits == []


def test_it_refuses_a_certificate_url_over_http(client, aws, pki, cloudwatch):
    envelope = sign(notification(), pki, cert_url=aws.url(CERT_PATH, scheme="http"))
    assert_refused(post(client, cloudwatch, envelope), mentions="must use https")
    assert aws.hits == []


def test_it_refuses_an_unsigned_envelope(client, aws, cloudwatch):
    assert_refused(post(client, cloudwatch, notification()), mentions="no 'SignatureVersion'")


@pytest.mark.parametrize(
    ("change", "mentions"),
    [
        (lambda e, aws: e.update(SignatureVersion="3"), "unsupported SignatureVersion"),
        (lambda e, aws: e.pop("Signature"), "no 'Signature'"),
        (lambda e, aws: e.update(Signature="not base64!"), "not valid base64"),
        (lambda e, aws: e.pop("SigningCertURL"), "no 'SigningCertURL'"),
        (lambda e, aws: e.update(SigningCertURL=aws.url("/cert.txt")), "a .pem certificate"),
        (lambda e, aws: e.update(SigningCertURL="https://127.0.0.1:99999/x.pem"), "valid URL"),
        (lambda e, aws: e.update(Type="Subscription"), "unknown 'Type'"),
        (lambda e, aws: e.update(MessageId=7), "must be a string"),
    ],
)
def test_it_refuses_a_malformed_signature_with_401(
    client, aws, pki, cloudwatch, change: Callable, mentions: str
):
    envelope = sign(notification(), pki, cert_url=aws.url(CERT_PATH))
    change(envelope, aws)
    assert_refused(post(client, cloudwatch, envelope), mentions=mentions)


def test_it_refuses_an_expired_signing_certificate(client, aws, pki, cloudwatch):
    envelope = sign(notification(), pki, cert_url=aws.url(EXPIRED_CERT_PATH))
    assert_refused(post(client, cloudwatch, envelope), mentions="not valid now")


def test_it_asks_for_a_retry_when_the_certificate_cannot_be_fetched(client, aws, pki, cloudwatch):
    cert_url = f"https://127.0.0.1:{free_port()}{CERT_PATH}"
    envelope = sign(notification(), pki, cert_url=cert_url)
    assert_retry_later(post(client, cloudwatch, envelope), mentions="could not fetch")


def test_it_asks_for_a_retry_when_the_certificate_url_answers_an_error(
    client, aws, pki, cloudwatch
):
    envelope = sign(notification(), pki, cert_url=aws.url("/missing.pem"))
    assert_retry_later(post(client, cloudwatch, envelope), mentions="HTTP 404")


def test_it_fetches_the_certificate_once_for_two_deliveries(client, aws, pki, cloudwatch):
    first = sign(notification("orders-api-5xx"), pki, cert_url=aws.url(CERT_PATH))
    second = sign(notification("payments-api-5xx"), pki, cert_url=aws.url(CERT_PATH), version="1")
    assert post(client, cloudwatch, first).status_code == 202
    assert post(client, cloudwatch, second).status_code == 202
    assert aws.hits_on(CERT_PATH) == 1


# --- subscription confirmation ------------------------------------------------------------------


def test_it_confirms_a_subscription_while_processing(client, aws, pki, cloudwatch):
    confirmation = subscription_confirmation(aws.subscribe_url())
    envelope = sign(confirmation, pki, cert_url=aws.url(CERT_PATH))
    response = post(client, cloudwatch, envelope)
    assert response.status_code == 202, response.content
    assert aws.confirmations() == 0  # never inside the request
    process()
    assert aws.confirmations() == 1
    event = InboundEvent.objects.get()
    assert event.status == "processed"
    assert event.result["confirmed"] is True
    assert event.result["subscription_arn"] == SUBSCRIPTION_ARN
    assert event.result["subscription_confirmation"] == TOPIC_ARN
    assert Incident.objects.count() == 0
    assert Alert.objects.count() == 0


def test_it_does_not_confirm_with_a_host_not_allowed(client, aws, pki, cloudwatch):
    subscribe_url = aws.subscribe_url(host="localhost")
    envelope = sign(subscription_confirmation(subscribe_url), pki, cert_url=aws.url(CERT_PATH))
    assert post(client, cloudwatch, envelope).status_code == 202
    process()
    assert aws.confirmations() == 0
    event = InboundEvent.objects.get()
    assert event.status == "processed"
    assert event.result["confirmed"] is False
    assert event.result["error"] == "SubscribeURL host 'localhost' is not allowed"


def test_it_records_an_unreachable_subscribe_url(client, aws, pki, cloudwatch):
    subscribe_url = aws.subscribe_url(port=free_port())
    envelope = sign(subscription_confirmation(subscribe_url), pki, cert_url=aws.url(CERT_PATH))
    assert post(client, cloudwatch, envelope).status_code == 202
    process()
    event = InboundEvent.objects.get()
    assert event.status == "processed"
    assert event.result["confirmed"] is False
    assert event.result["error"].startswith("could not reach SNS")
    assert Incident.objects.count() == 0


def test_it_records_the_error_sns_answers(aws):
    result = sns.sns_confirm_subscription(subscribe_url=aws.url("/gone?Token=expired"))
    assert result == {"confirmed": False, "error": "SNS answered HTTP 404: Not Found"}
    assert aws.hits == ["/gone?Token=expired"]
