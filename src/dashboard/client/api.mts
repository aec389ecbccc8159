/**
 * Requests from the page to the engine. Every URL is relative, so it
 * resolves against the page's `<base href>` and works both at `/` and under
 * Home Assistant's ingress prefix. POST requests carry the CSRF token the
 * server put on `<body>`. A 401 means the session ended, so the page goes
 * to the login form.
 */

/** An HTTP error with the server's message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function csrfToken(): string {
  return document.body.dataset["csrfToken"] ?? "";
}

async function parse<T>(response: Response, loginOn401: boolean): Promise<T> {
  if (response.status === 401 && loginOn401) {
    window.location.href = "login";
    throw new ApiError(401, "Logged out");
  }
  const body = (await response.json().catch(() => ({}))) as {
    error?: string;
  };
  if (!response.ok) {
    throw new ApiError(
      response.status,
      body.error ?? `HTTP ${response.status}`,
    );
  }
  return body as T;
}

/** GETs `path` (relative, e.g. "api/dashboard") and returns its JSON. */
export async function getJson<T>(path: string): Promise<T> {
  return parse<T>(
    await fetch(path, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    }),
    true,
  );
}

/**
 * POSTs `body` as JSON to `path` with the CSRF token and returns the JSON
 * answer. A 401 opens the login page unless `loginOn401` is false.
 */
export async function postJson<T>(
  path: string,
  body: unknown,
  loginOn401 = true,
): Promise<T> {
  return parse<T>(
    await fetch(path, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRF-Token": csrfToken(),
      },
      credentials: "same-origin",
      body: JSON.stringify(body),
    }),
    loginOn401,
  );
}
