"""A shopper over HTTP: cookies, the CSRF token, no redirects followed, for driving the shop's web layer."""

import http.cookiejar
import multiprocessing
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request


class Shopper:
    """A browser-like HTTP client (cookies, CSRF token) for driving the shop through its web layer."""

    def __init__(self, base_url, language="en"):
        self.base_url = base_url
        # The shopper's pages are under their language's prefix ("/en/cart/"); language=None for a tree from
        # before the shop had languages (a benchmark's baseline).
        self.pages = f"/{language}" if language else ""
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect())

    def _csrf(self):
        for cookie in self.cookies:
            if cookie.name == "csrftoken":
                return cookie.value
        self.request("GET", "/admin/login/")  # a page that always carries a form, hence the CSRF cookie
        return next(cookie.value for cookie in self.cookies if cookie.name == "csrftoken")

    def request(self, method, path, form=None, timeout=30):
        """(status, location, body) of one request; redirects are not followed."""
        data = None
        headers = {}
        if form is not None:
            form = {**form, "csrfmiddlewaretoken": self._csrf()}
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        try:
            with self.opener.open(request, timeout=timeout) as response:
                return response.status, response.headers.get("Location"), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get("Location"), error.read().decode(errors="replace")

    def add_to_cart(self, product_id, quantity):
        status, _, _ = self.request("POST", f"{self.pages}/cart/add/{product_id}/", {"quantity": quantity})
        return status

    def checkout(self, customer):
        """Send the checkout form; return (status, location, body, seconds). The order is placed when the
        answer is the thank-you page (see placed_order_number)."""
        started = time.monotonic()
        status, location, body = self.request("POST", f"{self.pages}/orders/create/", customer)
        return status, location, body, time.monotonic() - started

    def checkout_form(self, customer):
        """The checkout form as the checkout page gives it to this shopper: `customer` with its one-time key
        and the CSRF token."""
        _, _, page = self.request("GET", f"{self.pages}/orders/create/")
        key = re.search(r'name="idempotency_key" value="([0-9a-f-]+)"', page).group(1)
        return {**customer, "idempotency_key": key, "csrfmiddlewaretoken": self._csrf()}

    def cookie_header(self):
        return "; ".join(f"{cookie.name}={cookie.value}" for cookie in self.cookies)

    def confirmation_page(self):
        return self.request("GET", f"{self.pages}/orders/created/")[2]

    def pay_offline(self, decision="approve"):
        """Pay the order just placed with the offline provider: "Pay" on the thank-you page, then approve (or
        decline) on the provider's page. Returns (the order's token, where the provider sent the shopper back)."""
        found = re.search(r'action="(?:/[a-z]{2})?/orders/([0-9a-f-]{36})/pay/"', self.confirmation_page())
        if found is None:
            raise RuntimeError("the thank-you page has no Pay button")
        status, provider_page, body = self.request("POST", f"{self.pages}/orders/{found.group(1)}/pay/", {})
        if status != 302 or not provider_page.startswith(f"{self.pages}/payments/offline/"):
            raise RuntimeError(f"Pay answered {status} {provider_page}: {body[:300]}")
        status, back, body = self.request("POST", provider_page, {"decision": decision})
        if status != 302:
            raise RuntimeError(f"the provider's page answered {status}: {body[:300]}")
        return found.group(1), back


THANK_YOU_NUMBER = re.compile(r'<strong id="order-number">(MS-[0-9A-Z]{4}-[0-9A-Z]{4})</strong>')


def placed_order_number(status, body):
    """The order number on a checkout's answer when it is the thank-you page (200), else None."""
    found = THANK_YOU_NUMBER.search(body) if status == 200 else None
    return found.group(1) if found else None


def checkouts_at_once(shoppers, customers, timeout=60):
    """Send each shopper's checkout form at the same moment, each from a process of its own (they wait at
    one barrier); the answers as (status, body), in the shoppers' order."""
    forms = [shopper.checkout_form(customer) for shopper, customer in zip(shoppers, customers, strict=True)]
    context = multiprocessing.get_context("spawn")  # nothing of the test process (its database connection)
    barrier, answers = context.Barrier(len(shoppers)), context.Queue()
    processes = [
        context.Process(
            target=_checkout_at_barrier,
            args=(barrier, answers, index, shopper.base_url + shopper.pages, shopper.cookie_header(), form, timeout),
        )
        for index, (shopper, form) in enumerate(zip(shoppers, forms))
    ]
    for process in processes:
        process.start()
    try:
        results = dict(answers.get(timeout=timeout) for _ in processes)
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
    return [results[index] for index in range(len(shoppers))]


def _checkout_at_barrier(barrier, answers, index, base_url, cookie_header, form, timeout):
    request = urllib.request.Request(
        base_url + "/orders/create/",
        data=urllib.parse.urlencode(form).encode(),
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie_header},
    )
    opener = urllib.request.build_opener(_NoRedirect())
    barrier.wait(timeout=timeout)
    try:
        with opener.open(request, timeout=timeout) as response:
            answer = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        answer = error.code, error.read().decode(errors="replace")
    answers.put((index, answer))


def paced(action, count, *, duration, threads, started, stop=None):
    """Call action(index) for index 1..count from `threads` threads, the index-th call not before
    `started + (index - 1) * duration / count` (time.monotonic()): a steady arrival rate, as long as the
    threads keep up. Setting `stop` (a threading.Event) ends them early. Returns the started threads."""
    interval = duration / count
    indexes = iter(range(1, count + 1))
    take = threading.Lock()
    stop = stop or threading.Event()

    def loop():
        while not stop.is_set():
            with take:
                index = next(indexes, None)
            if index is None or stop.wait(max(0.0, started + (index - 1) * interval - time.monotonic())):
                return
            action(index)

    running = [threading.Thread(target=loop) for _ in range(threads)]
    for thread in running:
        thread.start()
    return running


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
