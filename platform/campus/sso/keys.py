"""Our service provider's SAML signing key, one per university's IdP: it signs the
LogoutRequests and LogoutResponses we send, and its certificate is in our SP metadata."""

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

# SAML trusts the key in the metadata, not a CA: a long-lived self-signed certificate is
# the federations' norm, and rolling it means re-registering with the IdP.
VALIDITY = dt.timedelta(days=10 * 365)


def sp_key_pair(*, common_name: str) -> tuple[str, str]:
    """A new RSA key (PEM) and its self-signed certificate (base64 DER, as metadata has)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + VALIDITY)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    body = certificate.public_bytes(serialization.Encoding.PEM).decode()
    return key_pem, "".join(line for line in body.splitlines() if "-----" not in line)
