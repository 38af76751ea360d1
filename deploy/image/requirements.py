"""Print the suite's third-party runtime requirements, one a line: the union of the packages'
`dependencies`, without the suite's own packages. deploy/Dockerfile installs them (constrained)
before copying the code, so editing the code does not reinstall them."""

import tomllib

PACKAGES = ("shared", "services/auth", "services/catalog", "services/payments", "gateway",
            "web")


def requirements() -> list[str]:
    found: set[str] = set()
    for package in PACKAGES:
        with open(f"{package}/pyproject.toml", "rb") as f:
            found.update(d for d in tomllib.load(f)["project"]["dependencies"]
                         if not d.startswith("suite-"))
    return sorted(found)


if __name__ == "__main__":
    print("\n".join(requirements()))
