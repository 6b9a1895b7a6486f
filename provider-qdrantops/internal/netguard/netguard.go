// Package netguard keeps the provider from connecting, on a tenant's behalf,
// to addresses no Qdrant node or S3 endpoint has: link-local addresses, where
// clouds serve instance metadata and credentials (169.254.169.254,
// fd00:ec2::254), and the unspecified address. Both the Qdrant and the S3
// clients dial through it, since a tenant names both URLs.
package netguard

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// ErrRefused says that a URL leads to an address the provider does not
// connect to.
var ErrRefused = errors.New("refused to connect")

var awsMetadataIPv6 = netip.MustParseAddr("fd00:ec2::254")

// Control is a net.Dialer Control function. It sees the address actually
// dialled, after DNS, so a name that resolves to a refused address is
// refused too.
func Control(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("cannot parse dialled address %q: %w", address, err)
	}
	ip = ip.Unmap()
	if ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsUnspecified() || ip == awsMetadataIPv6 {
		return fmt.Errorf("%w: %s is a link-local or metadata address", ErrRefused, ip)
	}
	return nil
}
