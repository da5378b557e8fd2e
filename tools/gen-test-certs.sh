#!/bin/sh
# tools/gen-test-certs.sh — (re)generates the TEST-ONLY PKI in tests/data/tls/.
#
# Usage: tools/gen-test-certs.sh [--ip-leaves] [outdir]
#                                   (default outdir: tests/data/tls next to this script)
#
# --ip-leaves keeps the CA in outdir and (re)writes only the two IP-literal
# leaves, signed by it, so the other committed files stay as they are.
#
# Everything it writes is committed so tests never need openssl at run time. The
# keys are public by construction: never use them outside tests.
#
#   ca.pem, ca.key                  test CA (EC P-256, basicConstraints CA:TRUE,
#                                   valid 2020-01-01 .. 2120-01-01 like every file here)
#   server.pem, server.key          leaf for DNS:localhost + IP:127.0.0.1, EC P-256,
#                                   signed by ca; key in PKCS#8 ("PRIVATE KEY")
#   server-rsa.pem, server-rsa.key  same names, RSA 2048, signed by ca; key in PKCS#1
#                                   ("RSA PRIVATE KEY"), to cover the RSA server path
#   wrong-host.pem, wrong-host.key  leaf for DNS:not-localhost.example only, signed by ca;
#                                   key in SEC1 ("EC PRIVATE KEY")
#   other-ca.pem                    an unrelated CA (RSA 2048) that signed none of the above
#   ip-only.pem, ip-only.key        leaf for IP:127.0.0.1 and IP:::1, no dNSName, EC P-256,
#                                   signed by ca (an upstream named by an IP literal)
#   dns-lookalike.pem, .key         leaf for DNS:127.0.0.1 only, CN 127.0.0.1, EC P-256,
#                                   signed by ca (an IP written as a DNS name, which must
#                                   not match an IP literal)
#
# Every certificate uses SHA-256 signatures and X.509 v3 extensions that BearSSL's
# minimal validator understands (it refuses unknown critical extensions). Each
# leaf file holds the leaf only, without the CA: tests pass ca.pem as the trust
# anchor.
set -eu

ip_only=false
if [ "${1:-}" = --ip-leaves ]; then
    ip_only=true
    shift
fi
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-"$here/../tests/data/tls"}
mkdir -p "$out"
out=$(cd "$out" && pwd)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# A config of our own, so the host's openssl.cnf adds no extensions behind our back.
# Certificates are signed with `openssl ca`, the one 3.0-era command that takes
# explicit dates: validity is pinned to 2020-01-01 .. 2120-01-01 instead of "now",
# so a test machine whose clock lags the generating one still finds them valid.
start=20200101000000Z
end=21200101000000Z
mkdir "$tmp/new"
: >"$tmp/index.txt"
cat >"$tmp/ca.cnf" <<END
[req]
distinguished_name = dn
prompt = no
[dn]
[ca]
default_ca = testca
[testca]
database = $tmp/index.txt
new_certs_dir = $tmp/new
serial = $tmp/serial
default_md = sha256
policy = policy_any
unique_subject = no
email_in_dn = no
[policy_any]
organizationName = optional
commonName = supplied
END

cat >"$tmp/v3ca.tmpl" <<'END'
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
END

# $1 = file name stem, $2 = subjectAltName value, $3 = keyUsage value
leaf_ext()
{
    cat >"$tmp/$1.ext" <<END
basicConstraints = critical, CA:FALSE
keyUsage = critical, $3
extendedKeyUsage = serverAuth
subjectAltName = $2
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
END
}

# $1 = stem, $2 = CN, $3 = key algorithm options for genpkey; writes $1.key and $1.csr
key_and_csr()
{
    # shellcheck disable=SC2086
    openssl genpkey $3 -out "$tmp/$1.key" 2>/dev/null
    openssl req -new -sha256 -key "$tmp/$1.key" -config "$tmp/ca.cnf" \
        -subj "/O=Conduit tests/CN=$2" -out "$tmp/$1.csr"
}

# $1 = stem, then extra `openssl ca` options (signer); signs $1.csr with $1.ext into $1.pem
sign()
{
    stem=$1
    shift
    openssl rand -hex 16 >"$tmp/serial"
    openssl ca -batch -notext -config "$tmp/ca.cnf" -startdate "$start" -enddate "$end" \
        -extfile "$tmp/$stem.ext" -in "$tmp/$stem.csr" -out "$tmp/$stem.pem" "$@" 2>/dev/null
}

# $1 = stem, $2 = CN, $3 = key algorithm options
self_signed_ca()
{
    key_and_csr "$1" "$2" "$3"
    cp "$tmp/v3ca.tmpl" "$tmp/$1.ext"
    sign "$1" -selfsign -keyfile "$tmp/$1.key"
}

# $1 = stem, $2 = CN, $3 = SAN, $4 = keyUsage, $5 = key algorithm options
leaf()
{
    key_and_csr "$1" "$2" "$5"
    leaf_ext "$1" "$3" "$4"
    sign "$1" -cert "$tmp/ca.pem" -keyfile "$tmp/ca.key"
    openssl verify -CAfile "$tmp/ca.pem" "$tmp/$1.pem" >/dev/null
}

ec='-algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve'
rsa='-algorithm RSA -pkeyopt rsa_keygen_bits:2048'

# The IP-literal leaves, signed by whatever ca.pem/ca.key are in $tmp.
ip_leaves()
{
    leaf ip-only "Conduit IP test" "IP:127.0.0.1, IP:::1" digitalSignature "$ec"
    leaf dns-lookalike 127.0.0.1 "DNS:127.0.0.1" digitalSignature "$ec"
}

if $ip_only; then
    cp "$out/ca.pem" "$out/ca.key" "$tmp/"
    ip_leaves
    cp "$tmp/ip-only.pem" "$tmp/ip-only.key" "$tmp/dns-lookalike.pem" "$tmp/dns-lookalike.key" \
        "$out/"
    chmod 644 "$out"/ip-only.* "$out"/dns-lookalike.*
    echo "IP test leaves written to $out"
    exit 0
fi

self_signed_ca ca "Conduit test CA" "$ec"
self_signed_ca other-ca "Conduit unrelated test CA" "$rsa"
ip_leaves
leaf server localhost "DNS:localhost, IP:127.0.0.1" digitalSignature "$ec"
leaf server-rsa localhost "DNS:localhost, IP:127.0.0.1" "digitalSignature, keyEncipherment" "$rsa"
leaf wrong-host not-localhost.example "DNS:not-localhost.example" digitalSignature "$ec"

# Key encodings: server.key stays PKCS#8 (genpkey's default); the others use the
# traditional forms so that all three PEM names the loader accepts are exercised.
openssl pkey -in "$tmp/server-rsa.key" -traditional -out "$tmp/server-rsa.trad"
mv "$tmp/server-rsa.trad" "$tmp/server-rsa.key"
openssl ec -in "$tmp/wrong-host.key" -out "$tmp/wrong-host.trad" 2>/dev/null
mv "$tmp/wrong-host.trad" "$tmp/wrong-host.key"

for f in ca.pem ca.key server.pem server.key server-rsa.pem server-rsa.key \
    wrong-host.pem wrong-host.key other-ca.pem ip-only.pem ip-only.key dns-lookalike.pem \
    dns-lookalike.key; do
    cp "$tmp/$f" "$out/$f"
done
chmod 644 "$out"/*.pem "$out"/*.key
echo "test PKI written to $out"
