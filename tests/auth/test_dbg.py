def test_x(app, objects):
    c = app.test_client()
    r = c.get("/login")
    print(r.status_code, r.headers.getlist("Set-Cookie"), c.get_cookie("session"))
def test_y(app, kiosk_browser):
    c = app.test_client()
    r = c.get("/login")
    print(r.status_code, r.headers.getlist("Set-Cookie"), c.get_cookie("session"))
def test_z(app, signed_in):
    signed_in("door")
    c = app.test_client()
    r = c.get("/login")
    print(r.status_code, r.headers.getlist("Set-Cookie"), c.get_cookie("session"))
