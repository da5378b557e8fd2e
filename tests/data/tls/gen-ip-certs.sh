#!/bin/sh
# tests/data/tls/gen-ip-certs.sh — (re)generates the TEST-ONLY leaves for IP-literal
# upstreams (https://127.0.0.1:8443, https://[::1]:8443), signed by the committed
# test CA (ca.pem, ca.key from tools/gen-test-certs.sh), with the same fixed validity
# (2020-01-01 .. 2120-01-01) and extensions as the other leaves here.
#
# Usage: tests/data/tls/gen-ip-certs.sh [dir]     (default: this script's folder)
#
#   ip-only.pem, ip-only.key          SAN IP:127.0.0.1 and IP:::1, no dNSName; EC P-256
#   dns-lookalike.pem, dns-lookalike.key
#                                     SAN DNS:127.0.0.1 only (an IP written as a DNS
#                                     name, which must not match an IP literal), CN
#                                     127.0.0.1; EC P-256
#
# The keys are public by construction: never use them outside tests.
set -eu

dir=$(cd "${1:-$(dirname "$0")}" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

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

# $1 = stem, $2 = CN, $3 = subjectAltName
leaf()
{
    cat >"$tmp/$1.ext" <<END
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = $3
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
END
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
        -pkeyopt ec_param_enc:named_curve -out "$tmp/$1.key" 2>/dev/null
    openssl req -new -sha256 -key "$tmp/$1.key" -config "$tmp/ca.cnf" \
        -subj "/O=Conduit tests/CN=$2" -out "$tmp/$1.csr"
    openssl rand -hex 16 >"$tmp/serial"
    openssl ca -batch -notext -config "$tmp/ca.cnf" -startdate 20200101000000Z \
        -enddate 21200101000000Z -extfile "$tmp/$1.ext" -in "$tmp/$1.csr" \
        -out "$tmp/$1.pem" -cert "$dir/ca.pem" -keyfile "$dir/ca.key" 2>/dev/null
    openssl verify -CAfile "$dir/ca.pem" "$tmp/$1.pem" >/dev/null
    cp "$tmp/$1.pem" "$tmp/$1.key" "$dir/"
    chmod 644 "$dir/$1.pem" "$dir/$1.key"
}

leaf ip-only "Conduit IP test" "IP:127.0.0.1, IP:::1"
leaf dns-lookalike 127.0.0.1 "DNS:127.0.0.1"
echo "IP test leaves written to $dir"
