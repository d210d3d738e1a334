"""Every word the web pages show, in one place per language: Simplified Chinese first, English by `?lang=en`.

The verifier's reasons stay as it writes them (English, with hashes and times); the pages put a plain
sentence in the reader's language before each, keyed by the check's name and outcome.
"""

from __future__ import annotations

from typing import Literal

Language = Literal["zh", "en"]
LANGUAGES: tuple[Language, ...] = ("zh", "en")

ZH: dict[str, str] = {
    "html_lang": "zh-CN",
    "site": "CertNet 电子证照",
    "other_language": "English",
    "home_title": "CertNet 电子证照",
    "home_intro": "在浏览器中核验电子证照，查看证照在链上的状态。",
    "verify_link": "核验证照",
    "verify_link_about": "选择证照文件或粘贴其 JSON，查看是否有效及每项检查的原因。",
    "status_link_about": "证照纸质件上的二维码指向 /c/ 加证照哈希：该证照的公开状态页。",
    "api_link": "接口文档 (OpenAPI)",
    "verify_title": "核验证照",
    "verify_file": "证照文件 (JSON)",
    "verify_paste": "或粘贴证照 JSON",
    "verify_submit": "核验",
    "verify_privacy": "证照仅随本次请求发送给网关核验，不会出现在网址中，也不会被保存。",
    "verdict_valid": "有效",
    "verdict_invalid": "无效",
    "verdict_unchecked": "无法核验",
    "verdict_unchecked_about": "区块链或网关的索引暂时无法回答：这不代表证照无效，请稍后再试。",
    "checks": "各项检查",
    "check": "检查",
    "outcome": "结果",
    "reason": "原因",
    "technical": "核验器原文",
    "outcome_valid": "通过",
    "outcome_invalid": "未通过",
    "outcome_error": "无法检查",
    "outcome_skipped": "未检查",
    "certificate": "证照",
    "certificate_hash": "证照哈希",
    "issuer": "签发部门",
    "certificate_type": "证照类型",
    "version": "版本",
    "valid_from": "生效时间",
    "valid_until": "有效期至",
    "no_expiry": "长期有效",
    "anchored": "上链时间",
    "block": "区块",
    "revoked": "已撤销",
    "revocation_reason": "撤销原因",
    "superseded_by": "已被替换为",
    "contents": "证照内容",
    "withheld": "项由持证人隐去",
    "status_page": "链上状态页",
    "status_title": "证照状态",
    "status": "状态",
    "status_valid": "有效",
    "status_expired": "已过期",
    "status_revoked": "已撤销",
    "status_superseded": "已被替换",
    "checked_at": "依据的链上状态",
    "status_privacy": "本页只显示链上的公开信息，不含任何个人信息。",
    "error_title": "无法完成请求",
    "not_found": "链上没有这张证照（批量签发的证照需由签发它的网关查询，或上传证照文件核验）。",
    "not_json": "这不是 JSON：请选择证照文件或粘贴证照的 JSON 内容。",
    "no_document": "请选择证照文件或粘贴证照 JSON。",
    "not_a_document": "这不是一份可以核验的证照：",
    "unavailable": "区块链暂时无法回答，请稍后再试。",
    "back_to_verify": "返回核验",
    "home": "首页",
    # --- rendering ---
    "rendering_title": "电子证照",
    "show_certificate": "显示证照",
    "withheld_field": "已隐去的字段",
    "withheld_by_holder": "由持证人隐去",
    "qr_label": "二维码：证照的链上状态页",
    "qr_caption": "扫码查看证照在链上的状态",
    "not_anchored": "尚未上链",
}

EN: dict[str, str] = {
    "html_lang": "en",
    "site": "CertNet certificates",
    "other_language": "中文",
    "home_title": "CertNet certificates",
    "home_intro": "Verify an electronic certificate in your browser and see its status on the chain.",
    "verify_link": "Verify a certificate",
    "verify_link_about": "Choose a certificate file or paste its JSON: whether it is valid, and why, check by check.",
    "status_link_about": "The QR code on a paper copy points to /c/ and the certificate's hash: its public status page.",
    "api_link": "API documentation (OpenAPI)",
    "verify_title": "Verify a certificate",
    "verify_file": "Certificate file (JSON)",
    "verify_paste": "or paste the certificate's JSON",
    "verify_submit": "Verify",
    "verify_privacy": "The certificate goes to the gateway in this request only: never in a URL, never stored.",
    "verdict_valid": "Valid",
    "verdict_invalid": "Invalid",
    "verdict_unchecked": "Could not be checked",
    "verdict_unchecked_about": "The chain or the gateway's index cannot answer now: this does not mean the "
                               "certificate is invalid. Try again later.",
    "checks": "Checks",
    "check": "Check",
    "outcome": "Outcome",
    "reason": "Reason",
    "technical": "The verifier's words",
    "outcome_valid": "passed",
    "outcome_invalid": "failed",
    "outcome_error": "could not be checked",
    "outcome_skipped": "not checked",
    "certificate": "Certificate",
    "certificate_hash": "Certificate hash",
    "issuer": "Issuing department",
    "certificate_type": "Certificate type",
    "version": "version",
    "valid_from": "Valid from",
    "valid_until": "Valid until",
    "no_expiry": "does not expire",
    "anchored": "Anchored",
    "block": "block",
    "revoked": "Revoked",
    "revocation_reason": "Revocation reason",
    "superseded_by": "Superseded by",
    "contents": "Contents",
    "withheld": "field(s) withheld by the holder",
    "status_page": "Status on the chain",
    "status_title": "Certificate status",
    "status": "Status",
    "status_valid": "valid",
    "status_expired": "expired",
    "status_revoked": "revoked",
    "status_superseded": "superseded",
    "checked_at": "Chain state read",
    "status_privacy": "This page shows only what the chain makes public: no personal data.",
    "error_title": "The request could not be completed",
    "not_found": "The chain has no such certificate (a batch member needs the gateway that issued it, or its "
                 "file to verify).",
    "not_json": "This is not JSON: choose a certificate file or paste the certificate's JSON.",
    "no_document": "Choose a certificate file or paste the certificate's JSON.",
    "not_a_document": "This is not a certificate that can be verified: ",
    "unavailable": "The chain does not answer now; try again later.",
    "back_to_verify": "Back to verification",
    "home": "Home",
    # --- rendering ---
    "rendering_title": "Electronic certificate",
    "show_certificate": "Show the certificate",
    "withheld_field": "Withheld field",
    "withheld_by_holder": "withheld by the holder",
    "qr_label": "QR code: the certificate's status page on the chain",
    "qr_caption": "Scan to see the certificate's status on the chain",
    "not_anchored": "not anchored yet",
}

#: What each named check looked at, as a reader calls it.
CHECK_NAMES: dict[Language, dict[str, str]] = {
    "zh": {"integrity": "内容完整", "signature": "签发部门签名", "holder": "持证人身份", "anchored": "已上链",
           "issuer_authorised": "签发部门有权签发该类证照", "not_revoked": "未被撤销", "validity": "在有效期内",
           "not_superseded": "未被替换"},
    "en": {"integrity": "Content intact", "signature": "Issuer's signature", "holder": "Holder's identity",
           "anchored": "Anchored on the chain", "issuer_authorised": "Issuer authorised for the type",
           "not_revoked": "Not revoked", "validity": "Within its validity", "not_superseded": "Not superseded"},
}

#: A plain sentence for each check that did not pass (a passed check's name says it all).
CHECK_FAILURES: dict[Language, dict[str, str]] = {
    "zh": {"integrity": "证照内容与签发时不一致：有字段被改动过。", "signature": "签名不是签发部门当时的密钥所签。",
           "holder": "出示的身份与证照的持证人不符。", "anchored": "这张证照没有在链上登记。",
           "issuer_authorised": "签发部门或证照类型与链上登记的不符。", "not_revoked": "签发部门已撤销这张证照。",
           "validity": "证照不在有效期内。", "not_superseded": "这张证照已被一张新证照替换。"},
    "en": {"integrity": "The content differs from what was signed: a field was changed.",
           "signature": "The signature is not by a key the issuer held at the time.",
           "holder": "The identity shown is not the certificate's holder.",
           "anchored": "This certificate is not registered on the chain.",
           "issuer_authorised": "The issuer or type differs from what the chain registered.",
           "not_revoked": "The issuing department revoked this certificate.",
           "validity": "The certificate is outside its validity.",
           "not_superseded": "A newer certificate replaced this one."},
}

#: The registry's revocation reasons (ledger_node.types.REVOCATION_REASONS), for a reader.
REVOCATION_REASONS: dict[Language, dict[int, str]] = {
    "zh": {0: "未说明", 1: "误发", 2: "持证人申请", 3: "持证人不再符合条件", 4: "已被替换"},
    "en": {0: "unspecified", 1: "issued in error", 2: "at the holder's request", 3: "holder no longer eligible",
           4: "superseded"},
}

WORDS: dict[Language, dict[str, str]] = {"zh": ZH, "en": EN}


def language(requested: str | None) -> Language:
    """The page's language: English when asked for, else Chinese."""
    return "en" if requested == "en" else "zh"
