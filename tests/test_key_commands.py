"""createapikey / listapikeys / revokeapikey, and API keys in the Django admin."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import ApiKey, Project
from accounts.selectors import apikey_authenticate


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_createapikey_prints_the_key_alone_on_the_last_line_and_makes_the_project(db):
    out, err = run("createapikey", "--project", "Shop App", "--scopes", "read", "--user-id", "alice")
    key = out.strip().splitlines()[-1]
    api_key = apikey_authenticate(key)
    assert api_key is not None and api_key.scopes == ["read"] and api_key.user_id == "alice"
    assert api_key.project == Project.objects.get(slug="shop-app")
    assert key not in err and api_key.prefix in err


def test_each_new_project_gets_an_organisation_of_its_own(db, project):
    shop = apikey_authenticate(run("createapikey", "--project", "Shop")[0].strip())
    blog = apikey_authenticate(run("createapikey", "--project", "Blog", "--scopes", "admin")[0].strip())
    orgs = {project.organization_id, shop.project.organization_id, blog.project.organization_id}
    assert len(orgs) == 3 and shop.kind == blog.kind == ApiKey.Kind.PROJECT
    # The same name again: the same project (keys made before keep their project).
    again = apikey_authenticate(run("createapikey", "--project", "Shop")[0].strip())
    assert again.project == shop.project
    # --org puts a new project in a named organisation.
    shop2 = apikey_authenticate(
        run("createapikey", "--project", "Shop 2", "--org", shop.project.organization.slug)[0].strip()
    )
    assert shop2.project.organization == shop.project.organization
    with pytest.raises(CommandError, match="organisation"):
        run("createapikey", "--project", "x", "--org", "no-such-org")


def test_a_project_made_before_in_the_default_organisation_keeps_its_keys(db, project):
    old = Project.objects.create(organization=project.organization, name="Legacy", slug="legacy")
    key = apikey_authenticate(run("createapikey", "--project", "legacy")[0].strip())
    assert key.project == old


def test_org_admin_keys_are_organisation_keys_and_are_listed_as_such(db):
    out, err = run("createapikey", "--project", "Shop", "--org-admin", "--scopes", "read")
    api_key = apikey_authenticate(out.strip())
    assert api_key.is_organization_key and api_key.has_scope("admin")
    assert "organisation key" in err
    listing = run("listapikeys")[0]
    row = next(line for line in listing.splitlines() if line.startswith(api_key.prefix))
    assert "organization" in row
    with pytest.raises(CommandError, match="restricted"):
        run("createapikey", "--project", "Shop", "--org-admin", "--user-id", "alice")


def test_bootstrap_admin_keys_are_the_operators_organisation_keys(db, project):
    from accounts.services import apikeys_bootstrap

    apikeys_bootstrap(keys=["plain-key-0123456789"], admin_keys=["operator-key-0123456789"])
    assert apikey_authenticate("operator-key-0123456789").is_organization_key
    assert not apikey_authenticate("plain-key-0123456789").is_organization_key


def test_createapikey_refuses_bad_scopes(db):
    with pytest.raises(CommandError, match="scopes"):
        run("createapikey", "--scopes", "read,root")
    assert ApiKey.objects.count() == 0


def test_listapikeys_shows_prefixes_never_secrets(db):
    first, _ = run("createapikey", "--name", "first")
    second, _ = run("createapikey", "--name", "second", "--scopes", "admin")
    listing, _ = run("listapikeys")
    for key in (first.strip(), second.strip()):
        assert key[:12] in listing and key not in listing
    assert "first" in listing and "admin" in listing


def test_revokeapikey_by_prefix(db):
    key = run("createapikey")[0].strip()
    out, _ = run("revokeapikey", key[:12])
    assert "Revoked" in out and apikey_authenticate(key) is None
    assert key[:12] not in run("listapikeys")[0]
    assert key[:12] in run("listapikeys", "--all")[0]
    with pytest.raises(CommandError):
        run("revokeapikey", "mem0_nothing-like-this")


def test_the_admin_shows_a_new_key_once_and_lists_prefixes(admin_client, project):
    response = admin_client.post(
        "/admin/accounts/apikey/add/",
        {"project": str(project.id), "name": "from admin", "scopes": ["read", "write"], "user_id": ""},
        follow=True,
    )
    assert response.status_code == 200
    messages = [str(m) for m in response.context["messages"]]
    shown = [m.split(": ", 1)[1] for m in messages if "shown this once" in m]
    assert len(shown) == 1 and apikey_authenticate(shown[0]).name == "from admin"
    listing = admin_client.get("/admin/accounts/apikey/").content.decode()
    assert shown[0][:12] in listing and shown[0] not in listing
    detail = admin_client.get(f"/admin/accounts/apikey/{ApiKey.objects.get().pk}/change/").content.decode()
    assert shown[0] not in detail and ApiKey.objects.get().secret_hash not in detail
