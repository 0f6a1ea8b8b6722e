"""Errors in the shape OpenAI clients understand: {"error": {"message", "type", "code", ...}}."""

import json


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.code = code
        self.param = param
        self.headers = headers or {}

    def body(self) -> bytes:
        error = {"message": self.message, "type": self.type, "param": self.param, "code": self.code}
        return json.dumps({"error": error}).encode()


def bad_request(message: str, *, param: str | None = None) -> ApiError:
    return ApiError(400, message, type_="invalid_request_error", param=param)


def unauthorized(message: str) -> ApiError:
    return ApiError(401, message, type_="authentication_error", code="invalid_api_key")


def forbidden(message: str) -> ApiError:
    return ApiError(403, message, type_="permission_error", code="no_grant")


def model_not_found(name: str) -> ApiError:
    return ApiError(
        404,
        f"The model {name!r} does not exist or is not enabled for you. "
        "GET /v1/models lists the models you may use.",
        type_="invalid_request_error",
        param="model",
        code="model_not_found",
    )


def upstream_unavailable(message: str) -> ApiError:
    return ApiError(503, message, type_="server_error", code="upstream_unavailable")
