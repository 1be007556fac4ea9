// The dashboard API, called with the signed-in dashboard token. Every failure becomes an ApiError with the
// server's message (the API answers JSON errors: {status, error, message, field}).

export class ApiError extends Error {
  constructor(status, message, field) {
    super(message);
    this.status = status;
    this.field = field;
  }
}

export class Api {
  constructor(token) {
    this.token = token;
  }

  async request(method, path, { query, body } = {}) {
    const url = new URL(path, window.location.origin);
    for (const [key, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, String(value));
    }
    const headers = { Authorization: `Bearer ${this.token}`, Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
      });
    } catch (err) {
      throw new ApiError(0, "the dashboard API cannot be reached: is the service running?");
    }
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (err) {
        data = null;
      }
    }
    if (!response.ok) {
      const message = (data && data.message) || `${response.status} ${response.statusText}`;
      throw new ApiError(response.status, message, data && data.field);
    }
    return data;
  }

  get(path, query) {
    return this.request("GET", path, { query });
  }

  post(path, body) {
    return this.request("POST", path, { body });
  }

  projects() {
    return this.get("/api/projects");
  }

  project(projectId, suffix, query) {
    return this.get(`/api/projects/${encodeURIComponent(projectId)}${suffix}`, query);
  }

  sseToken(projectId) {
    return this.post("/api/sse-tokens", { project_id: projectId });
  }
}
