from tests.factories import make_tenant

API = "/zapmail/api"


def test_smoke(db, client):
    o = make_tenant(db)
    h = o.zapmail_headers
    r = client.get(f"{API}/v2/workspaces", headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["data"][0]["domainCount"] == "0"
    b = {
        "firstName": "John",
        "lastName": "Doe",
        "company": "TechCorp",
        "addressLineOne": "123 Main Street",
        "city": "Metropolis",
        "state": "California",
        "country": "US",
        "postalCode": "90210",
        "phoneCc": "1",
        "phone": "5551234567",
        "languagePreference": "en",
    }
    r = client.post(
        f"{API}/v2/workspaces", json={"name": "New Workspace", "billingDetails": b}, headers=h
    )
    assert r.status_code == 200, r.text
    assert list(r.json()["data"]) == ["id", "name", "userId", "updatedAt", "createdAt", "deletedAt"]
    r = client.post(f"{API}/v2/billing", json=b, headers=h)
    assert r.status_code == 200, r.text
    r = client.get(f"{API}/v1/workspace/list", headers=h)
    assert r.json()["data"][0]["billingDetails"]["company"] == "TechCorp", r.text
    r = client.get(f"{API}/v2/workspaces/members", headers=h)
    assert r.status_code == 200, r.text
    r = client.post(
        f"{API}/v2/workspaces/invitations",
        json={"email": "a@example.com", "role": "EDITOR"},
        headers=h,
    )
    assert r.status_code == 200, r.text
    r = client.get(f"{API}/v2/workspaces/invitations", headers=h)
    assert r.json()["data"]["totalSearchedCount"] == 1, r.text
