package signin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Identity is whom the console acts as: built only from a verified ID token.
type Identity struct {
	Username string              `json:"u"`
	UID      string              `json:"i,omitempty"`
	Groups   []string            `json:"g,omitempty"`
	Extra    map[string][]string `json:"x,omitempty"`
	// Email is shown on pages; it is not part of the Kubernetes identity.
	Email string `json:"e,omitempty"`
	// Token is the verified ID token itself, kept only when the console
	// passes it to kube-apiserver instead of impersonating (Config.
	// KeepIDToken); it never leaves the sealed session but for that.
	Token string `json:"t,omitempty"`
	// TokenExpires is when Token expires: the session ends then.
	TokenExpires time.Time `json:"-"`
}

// ClaimMapping turns ID token claims into an Identity, with the meaning of
// kube-apiserver's --oidc-username-claim, --oidc-username-prefix,
// --oidc-groups-claim and --oidc-groups-prefix, so one set of RBAC bindings
// serves kubectl and the console.
type ClaimMapping struct {
	// UsernameClaim is the claim holding the username (default "email").
	UsernameClaim string
	// UsernamePrefix is put before the username. Empty means the default of
	// kube-apiserver: none for the email claim, "<issuer>#" for any other;
	// "-" means none.
	UsernamePrefix string
	// GroupsClaim is the claim holding the groups (a string or a list of
	// strings); empty for none.
	GroupsClaim string
	// GroupsPrefix is put before each group.
	GroupsPrefix string
	// UIDClaim is the claim holding the user's UID (default "sub"); "-"
	// for none.
	UIDClaim string
}

// Map builds the Identity of a token issued by issuer with claims.
func (m ClaimMapping) Map(issuer string, claims map[string]any) (Identity, error) {
	usernameClaim := m.UsernameClaim
	if usernameClaim == "" {
		usernameClaim = "email"
	}
	username, ok := claims[usernameClaim].(string)
	if !ok || username == "" {
		return Identity{}, fmt.Errorf("the ID token has no string claim %q for the username", usernameClaim)
	}
	if usernameClaim == "email" {
		// As kube-apiserver: an email claim is used only once verified.
		if v, present := claims["email_verified"]; present {
			if verified, _ := v.(bool); !verified {
				return Identity{}, errors.New("the ID token's email is not verified")
			}
		}
	}
	prefix := m.UsernamePrefix
	switch {
	case prefix == "-":
		prefix = ""
	case prefix == "" && usernameClaim != "email":
		prefix = issuer + "#"
	}
	id := Identity{Username: prefix + username}
	if email, ok := claims["email"].(string); ok {
		id.Email = email
	}
	uidClaim := m.UIDClaim
	if uidClaim == "" {
		uidClaim = "sub"
	}
	if uidClaim != "-" {
		if uid, ok := claims[uidClaim].(string); ok {
			id.UID = uid
		}
	}
	if m.GroupsClaim != "" {
		switch g := claims[m.GroupsClaim].(type) {
		case nil:
		case string:
			id.Groups = []string{m.GroupsPrefix + g}
		case []any:
			for _, v := range g {
				s, ok := v.(string)
				if !ok {
					return Identity{}, fmt.Errorf("the ID token's claim %q holds a non-string group", m.GroupsClaim)
				}
				id.Groups = append(id.Groups, m.GroupsPrefix+s)
			}
		default:
			return Identity{}, fmt.Errorf("the ID token's claim %q is neither a string nor a list of strings", m.GroupsClaim)
		}
	}
	return id, nil
}

// emailAllowed says whether email is in one of domains (any when empty).
func emailAllowed(email string, domains []string) bool {
	if len(domains) == 0 {
		return true
	}
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return false
	}
	domain := strings.ToLower(email[at+1:])
	return slices.ContainsFunc(domains, func(d string) bool { return strings.EqualFold(d, domain) })
}

type identityKey struct{}

// WithIdentity returns ctx carrying id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// FromContext returns the signed-in identity a request carries.
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}
