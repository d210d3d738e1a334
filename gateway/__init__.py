"""The CertNet gateway: certificates, verification, audit, and the HTTP service over them."""
