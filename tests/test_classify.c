/*
 * test_classify.c - table-driven tests of the recipient classifier:
 * (kind, action, status, reply code, diagnostic) -> (reason, hard, side).
 *
 * Texts are real provider and MTA replies (addresses and IPs changed).
 * Expected reasons follow Sisimai's vocabulary and semantics.
 */
#include <stdio.h>
#include <string.h>
#include <glib.h>

#include "parsers/classify.h"
#include "parsers/classify_table.h"
#include "parsers/report.h"
#include "tests/test.h"

#define DSN BOUNCE_KIND_DSN
#define TXT BOUNCE_KIND_BOUNCE
#define RCP BOUNCE_SIDE_RECIPIENT
#define SND BOUNCE_SIDE_SENDER
#define NON BOUNCE_SIDE_NONE

struct classify_case {
	enum bounce_kind kind;
	const char *action;
	const char *status;
	const char *reply;
	const char *diag;
	const char *reason;
	bool hard;
	enum bounce_side side;
};

static const struct classify_case cases[] = {
    /* --- user unknown: codes and texts --------------------------- */
    {DSN, "failed", "5.1.1", "550",
     "550 5.1.1 <a@example.jp>: Recipient "
     "address rejected: User unknown in local recipient table",
     "userunknown", true, RCP},
    {DSN, "failed", "5.1.1", "", "", "userunknown", true, RCP},
    {DSN, "failed", "5.0.0", "550",
     "550 5.1.1 <a@example.jp>... User "
     "unknown",
     "userunknown", true, RCP},
    {DSN, "failed", "5.0.0", "", "550 Sorry, no mailbox here by that name",
     "userunknown", true, RCP},
    {TXT, "failed", "", "",
     "Sorry, no mailbox here by that name. "
     "(#5.1.1)",
     "userunknown", true, RCP},
    {DSN, "failed", "5.1.1", "550",
     "550-5.1.1 The email account that you "
     "tried to reach does not exist. Please try double-checking the "
     "recipient's email address",
     "userunknown", true, RCP},
    {DSN, "failed", "5.1.10", "550",
     "550 5.1.10 RESOLVER.ADR."
     "RecipientNotFound; Recipient not found by SMTP address lookup",
     "userunknown", true, RCP},
    {DSN, "failed", "5.1.1", "550",
     "550 5.1.1 RESOLVER.ADR.ExRecipNotFound;"
     " not found",
     "userunknown", true, RCP},
    {DSN, "failed", "5.0.0", "", "550 No such user (a@example.jp)",
     "userunknown", true, RCP},
    {DSN, "failed", "5.0.0", "550",
     "550 Requested action not taken: "
     "mailbox unavailable",
     "userunknown", true, RCP},
    {DSN, "failed", "5.1.1", "550",
     "550 5.1.1 <a@icloud.com>: inactive "
     "email address (in reply to RCPT TO command)",
     "userunknown", true, RCP},
    {DSN, "failed", "5.0.0", "554",
     "554 delivery error: dd This user "
     "doesn't have a yahoo.co.jp account",
     "userunknown", true, RCP},
    {TXT, "failed", "", "",
     "The mail server reported: mailbox "
     "a@example.jp does not exist",
     "userunknown", true, RCP},
    {TXT, "failed", "", "",
     "The mail server reported: mailbox a@example.jp does not exist "
     "(in reply to RCPT TO command)",
     "userunknown", true, RCP},
    {DSN, "failed", "5.0.0", "550",
     "550 Invalid recipient: <a@softbank.ne.jp>", "userunknown", true,
     RCP},
    {DSN, "failed", "5.0.0", "550",
     "SMTP error from remote mail server after RCPT TO:<a@example.jp>: "
     "550 Invalid recipient",
     "userunknown", true, RCP},
    {DSN, "failed", "5.0.0", "550",
     "550 <a@example.jp>: User unknown (in reply to end of DATA command)",
     "filtered", false, RCP},
    {TXT, "failed", "", "", "User taro (taro@example.co.jp) not listed in "
     "Domino Directory", "userunknown", true, RCP},
    {TXT, "failed", "", "", "User not listed in public Name & Address Book",
     "userunknown", true, RCP},
    {TXT, "failed", "", "", "Amazon SES: the address is on the suppression "
     "list (Permanent/Suppressed)", "suppressed", false, RCP},
    {TXT, "failed", "", "", "Amazon SES did not send the message because "
     "the address is on the account-level suppression list",
     "suppressed", false, RCP},
    {TXT, "failed", "", "", "We're writing to let you know that the group "
     "you tried to contact (support) may not exist, or you may not have "
     "permission to post messages to the group.", "rejected", false, SND},
    {TXT, "failed", "", "550", "The user(s) account is disabled. 550 user "
     "unknown (in reply to RCPT TO command)", "suspend", false, RCP},
    {TXT, "failed", "", "", "The recipient name is not recognized "
     "MSEXCH:IMS:EXAMPLE:TOKYO:EX2003 0 (000C05A6) Unknown Recipient",
     "userunknown", true, RCP},
    {TXT, "failed", "", "", "The user(s) account is disabled.", "suspend",
     false, RCP},
    {DSN, "failed", "5.7.1", "554",
     "554 5.7.1 Message rejected: spam content detected", "spamdetected",
     false, SND},
    {DSN, "failed", "5.0.0", "550",
     "550 Client host rejected: cannot find your reverse hostname, "
     "[192.0.2.1]", "requireptr", false, SND},
    /* Google's "closing connection." DoS text only with its period */
    {DSN, "delayed", "4.7.0", "421",
     "421 4.7.0 Try again later, closing connection", "securityerror",
     false, SND},
    /* a failed 4xx with nothing specific: onhold (v5), delayed: expired */
    {DSN, "failed", "4.2.0", "450",
     "450 4.2.0 <a@example.jp>: Recipient address rejected: Greylisted",
     "onhold", false, NON},
    {DSN, "delayed", "4.2.0", "450",
     "450 4.2.0 <a@example.jp>: Recipient address rejected: Greylisted",
     "expired", false, RCP},
    {DSN, "failed", "4.0.0", "", "", "undefined", false, NON},
    {TXT, "failed", "", "", "You are not a member of this mailing list "
     "<ml@example.jp>.", "rejected", false, SND},
    {TXT, "failed", "", "", "NOT MEMBER article from a@example.jp",
     "rejected", false, SND},
    {TXT, "failed", "", "", "was blocked by our Spam Firewall. The email "
     "you sent with the following subject has NOT BEEN DELIVERED",
     "spamdetected", false, SND},
    {DSN, "failed", "5.0.0", "550", "550 Unknown user a@docomo.ne.jp",
     "userunknown", true, RCP},
    {DSN, "failed", "5.1.0", "550",
     "550 5.1.0 <a@example.jp> Address "
     "rejected.",
     "userunknown", true, RCP},
    {DSN, "failed", "5.7.1", "550",
     "550 5.7.1 Unknown recipient "
     "(in reply to RCPT TO command)",
     "userunknown", true, RCP},
    {DSN, "failed", "5.4.1", "550",
     "550 5.4.1 Recipient address "
     "rejected: Access denied. AS(201806281)",
     "userunknown", true, RCP},
    {TXT, "failed", "", "", "ユーザ不明のため配送できませんでした",
     "userunknown", true, RCP},
    {TXT, "failed", "", "", "このメールアドレスは存在しません。", "userunknown",
     true, RCP},
    {TXT, "failed", "", "", "宛先不明", "userunknown", true, RCP},
    {TXT, "failed", "", "", "送信先のメールアドレスが見つかりません",
     "userunknown", true, RCP},
    {DSN, "failed", "5.1.1", "550",
     "550 5.1.1 <a@ezweb.ne.jp>: User "
     "unknown",
     "userunknown", true, RCP},

    /* --- host unknown -------------------------------------------- */
    {DSN, "failed", "5.1.2", "",
     "Host or domain name not found. Name "
     "service error for name=example.invalid type=A: Host not found",
     "hostunknown", true, RCP},
    {DSN, "failed", "5.4.4", "", "", "hostunknown", true, RCP},
    {DSN, "failed", "5.0.0", "", "Unrouteable address", "hostunknown", true,
     RCP},
    {DSN, "failed", "5.1.2", "", "", "hostunknown", true, RCP},
    {TXT, "failed", "", "", "550 No such domain at this location",
     "hostunknown", true, RCP},
    {TXT, "failed", "", "", "ドメインが存在しません", "hostunknown", true, RCP},
    {DSN, "failed", "5.4.4", "550",
     "550 5.4.4 SMTPSEND.DNS."
     "NonExistentDomain; nonexistent domain",
     "networkerror", false, RCP},

    /* --- has moved / not accept ---------------------------------- */
    {DSN, "failed", "5.1.6", "550",
     "550 5.1.6 recipient no longer on "
     "server: a@icloud.com",
     "hasmoved", true, RCP},
    {DSN, "failed", "5.0.0", "",
     "550 a@example.jp has been replaced by "
     "b@example.jp",
     "hasmoved", true, RCP},
    {DSN, "failed", "5.1.10", "556",
     "556 5.1.10 Recipient address has "
     "null MX",
     "notaccept", true, RCP},
    {DSN, "failed", "5.0.0", "",
     "Domain example.jp does not accept mail "
     "(nullMX)",
     "notaccept", true, RCP},
    {DSN, "failed", "4.3.2", "421",
     "421 4.3.2 System not accepting "
     "network messages",
     "notaccept", false, RCP},
    {DSN, "failed", "5.0.0", "521", "521 example.jp does not accept mail",
     "notaccept", true, RCP},

    /* --- mailbox full -------------------------------------------- */
    {DSN, "failed", "5.2.2", "552", "552 5.2.2 Mailbox full", "mailboxfull",
     false, RCP},
    {DSN, "failed", "4.2.2", "452",
     "452 4.2.2 The recipient's inbox is "
     "out of storage space. Please direct the recipient to "
     "https://support.google.com/mail/?p=OverQuotaTemp",
     "mailboxfull", false, RCP},
    {DSN, "failed", "5.0.0", "", "550 5.1.1 user over quota. (#5.1.1)",
     "mailboxfull", false, RCP},
    {DSN, "failed", "5.1.1", "552",
     "552 5.1.1 Requested mail action "
     "aborted: mailbox is full",
     "mailboxfull", false, RCP},
    {DSN, "failed", "4.4.7", "", "452 4.2.2 Over quota", "mailboxfull", false,
     RCP},
    {DSN, "failed", "5.2.2", "552",
     "552 5.2.2 <a@icloud.com>: user is "
     "over quota (in reply to RCPT TO command)",
     "mailboxfull", false, RCP},
    {TXT, "failed", "", "", "552 Too much mail data", "mailboxfull", false,
     RCP},
    {TXT, "failed", "", "",
     "The user(s) account is temporarily over "
     "quota.",
     "mailboxfull", false, RCP},
    {TXT, "failed", "", "", "メールボックスが一杯です", "mailboxfull", false,
     RCP},
    {TXT, "failed", "", "", "容量オーバーのため受信できません", "mailboxfull",
     false, RCP},
    {DSN, "failed", "4.0.0", "", "Maildir over quota", "mailboxfull", false,
     RCP},

    /* --- suspend / filtered -------------------------------------- */
    {DSN, "failed", "5.2.1", "550",
     "550-5.2.1 The email account that you "
     "tried to reach is inactive. For more information, go to "
     "https://support.google.com/mail/?p=DisabledUser",
     "suspend", false, RCP},
    {DSN, "failed", "5.0.0", "554",
     "554 30 Sorry, your message to "
     "a@aol.jp cannot be delivered. This mailbox is disabled (554.30)",
     "suspend", false, RCP},
    {DSN, "failed", "5.7.13", "", "", "suspend", false, RCP},
    {DSN, "failed", "5.0.0", "525", "525 user account disabled", "suspend",
     false, RCP},
    {TXT, "failed", "", "", "The user(s) account is disabled.", "suspend",
     false, RCP},
    {DSN, "failed", "5.0.0", "550", "550 Account is suspended", "suspend",
     false, RCP},
    {DSN, "failed", "5.2.0", "550", "550 : User unknown", "filtered", false,
     RCP},
    {DSN, "failed", "5.0.0", "550", "550 : User unknown", "filtered", false,
     RCP},
    {DSN, "failed", "5.2.0", "", "550 Unknown user a@example.jp", "filtered",
     false, RCP},
    {DSN, "failed", "5.0.0", "550",
     "550 User unknown (in reply to end of "
     "DATA command)",
     "filtered", false, RCP},
    {DSN, "failed", "5.2.1", "", "", "filtered", false, RCP},
    {TXT, "failed", "", "", "受信拒否設定により配信できませんでした",
     "filtered", false, RCP},
    {DSN, "failed", "5.0.0", "550",
     "550 you have been blocked by the "
     "recipient",
     "filtered", false, RCP},

    /* --- expired / delayed / network ----------------------------- */
    {DSN, "failed", "4.4.7", "", "", "expired", false, RCP},
    {DSN, "failed", "4.4.1", "",
     "connect to mx.example.jp[192.0.2.1]:25: "
     "Connection timed out",
     "expired", false, RCP},
    {DSN, "failed", "5.0.0", "", "retry timeout exceeded", "expired", false,
     RCP},
    {DSN, "failed", "4.0.0", "",
     "delivery temporarily suspended: "
     "lost connection with mx.example.jp",
     "onhold", false, NON},
    {DSN, "failed", "4.4.7", "",
     "Message expired, cannot connect to "
     "remote server",
     "expired", false, RCP},
    {TXT, "failed", "", "",
     "Your message was not delivered within 0 days "
     "and 1 hours.",
     "expired", false, RCP},
    {DSN, "failed", "5.4.6", "554",
     "554 5.4.6 Hop count exceeded - "
     "possible mail loop",
     "networkerror", false, RCP},
    {DSN, "failed", "5.0.0", "", "No route to host", "networkerror", false,
     RCP},
    {DSN, "failed", "5.4.0", "", "", "networkerror", false, RCP},

    /* --- authentication (sender) --------------------------------- */
    {DSN, "failed", "5.7.26", "550",
     "550-5.7.26 This mail is "
     "unauthenticated, which poses a security risk to the sender and "
     "Gmail users, and has been blocked. The sender must authenticate "
     "with at least one of SPF or DKIM.",
     "authfailure", false, SND},
    {DSN, "failed", "5.7.26", "550",
     "550-5.7.26 Unauthenticated email "
     "from example.jp is not accepted due to domain's DMARC policy.",
     "authfailure", false, SND},
    {DSN, "failed", "4.7.26", "421",
     "421-4.7.26 This mail has been rate "
     "limited because it is unauthenticated. Gmail requires all "
     "senders to authenticate with either SPF or DKIM.",
     "authfailure", false, SND},
    {DSN, "failed", "5.7.1", "550",
     "550 5.7.1 This message does not have "
     "authentication information or fails to pass authentication "
     "checks (SPF or DKIM).",
     "authfailure", false, SND},
    {DSN, "failed", "5.7.9", "550",
     "550 5.7.9 This mail has been blocked "
     "because the sender is unauthenticated. Yahoo requires all "
     "senders to authenticate with either SPF or DKIM.",
     "authfailure", false, SND},
    {DSN, "failed", "5.7.515", "550",
     "550 5.7.515 Access denied, sending "
     "domain EXAMPLE.JP doesn't meet the required authentication "
     "level.",
     "authfailure", false, SND},
    {DSN, "failed", "5.7.509", "550",
     "550 5.7.509 Access denied, sending "
     "domain EXAMPLE.JP does not pass DMARC verification and has a "
     "DMARC policy of reject.",
     "authfailure", false, SND},
    {DSN, "failed", "5.7.1", "554",
     "554 5.7.1 Your message was rejected "
     "due to example.jp's DMARC policy.",
     "authfailure", false, SND},
    {DSN, "failed", "5.7.23", "", "", "authfailure", false, SND},
    {DSN, "failed", "5.7.1", "550",
     "550 5.7.1 SPF check failed for "
     "example.jp",
     "authfailure", false, SND},
    {DSN, "failed", "4.7.30", "421",
     "421-4.7.30 Your email has been rate "
     "limited because DKIM authentication didn't pass for this "
     "message. Gmail requires all bulk email senders to authenticate "
     "their email with DKIM.",
     "authfailure", false, SND},
    {DSN, "failed", "4.7.32", "421",
     "421-4.7.32 Your email has been rate "
     "limited because the From: header (RFC5322) in this message "
     "isn’t aligned with either the authenticated SPF or DKIM "
     "organizational domain.",
     "authfailure", false, SND},
    {DSN, "failed", "5.7.1", "550", "550 5.7.1 なりすましメール拒否",
     "authfailure", false, SND},

    /* --- reputation, blocked, PTR, rate limits ------------------- */
    {DSN, "failed", "5.7.1", "550",
     "550-5.7.1 Our system has detected "
     "that this message is likely suspicious due to the very low "
     "reputation of the sending IP address.",
     "badreputation", false, SND},
    {DSN, "failed", "4.7.650", "451",
     "451 4.7.650 The mail server "
     "[192.0.2.5] has been temporarily rate limited due to IP "
     "reputation.",
     "badreputation", false, SND},
    {DSN, "failed", "4.7.0", "421",
     "421 4.7.0 [TSS04] Messages from "
     "192.0.2.25 temporarily deferred due to unexpected volume or user "
     "complaints - 4.16.55.1; see https://postmaster.yahooinc.com/"
     "error-codes",
     "rejected", false, SND},
    {DSN, "failed", "5.7.2", "553",
     "553 5.7.2 [TSS09] All messages from "
     "192.0.2.25 will be permanently deferred; Retrying will NOT "
     "succeed.",
     "rejected", false, SND},
    {DSN, "failed", "5.7.1", "550",
     "550 5.7.1 Service unavailable; "
     "Client host [192.0.2.1] blocked using zen.spamhaus.org",
     "blocked", false, SND},
    {DSN, "failed", "5.7.606", "550",
     "550 5.7.606 Access denied, banned "
     "sending IP [192.0.2.1].",
     "blocked", false, SND},
    {DSN, "failed", "5.7.511", "550",
     "550 5.7.511 Access denied, banned "
     "sender[192.0.2.1].",
     "rejected", false, SND},
    {DSN, "failed", "4.7.1", "", "", "blocked", false, SND},
    {DSN, "failed", "5.1.1", "550",
     "550 5.1.1 Mail from 192.0.2.1 "
     "refused: listed at a blacklist",
     "blocked", false, SND},
    {DSN, "failed", "4.7.28", "421",
     "421-4.7.28 Gmail has detected an "
     "unusual rate of mail originating from your IP address.",
     "blocked", false, SND},
    {DSN, "failed", "5.7.25", "550",
     "550-5.7.25 The IP address sending "
     "this message does not have a PTR record setup, or the "
     "corresponding forward DNS entry does not point to the sending "
     "IP.",
     "requireptr", false, SND},
    {DSN, "failed", "5.7.25", "", "", "requireptr", false, SND},
    {DSN, "failed", "4.7.1", "450",
     "450 4.7.1 Client host rejected: "
     "cannot find your hostname, [192.0.2.1]",
     "requireptr", false, SND},
    {DSN, "failed", "4.7.1", "451",
     "451 4.7.1 <mx.example.org[192.0.2.2]>:"
     " Client host rejected: Please try again slower",
     "ratelimited", false, SND},
    {DSN, "failed", "4.2.1", "450",
     "450-4.2.1 The user you are trying to "
     "contact is receiving mail too quickly.",
     "ratelimited", false, RCP},
    {DSN, "failed", "4.5.3", "452",
     "452 4.5.3 Your message has too many "
     "recipients.",
     "ratelimited", false, SND},
    {DSN, "failed", "4.0.0", "421",
     "421 Too many concurrent SMTP "
     "connections from this IP address; please try again later.",
     "ratelimited", false, SND},
    {DSN, "failed", "5.5.3", "", "", "ratelimited", false, SND},

    /* --- content, size, spam, virus, policy ---------------------- */
    {DSN, "failed", "5.3.4", "552",
     "552 5.3.4 Message size exceeds fixed "
     "limit",
     "emailtoolarge", false, SND},
    {DSN, "failed", "5.3.4", "", "", "emailtoolarge", false, SND},
    {DSN, "failed", "5.2.3", "552",
     "552-5.2.3 Your message exceeded "
     "Google's message size limits.",
     "exceedlimit", false, RCP},
    {DSN, "failed", "5.2.3", "", "", "exceedlimit", false, RCP},
    {DSN, "failed", "5.0.0", "552",
     "552 Message size exceeds maximum "
     "value",
     "emailtoolarge", false, SND},
    {DSN, "failed", "5.7.1", "550",
     "550-5.7.1 Our system has detected "
     "that this message is likely unsolicited mail.",
     "spamdetected", false, SND},
    {DSN, "failed", "5.7.1", "554", "554 5.7.1 Message rejected as spam",
     "spamdetected", false, SND},
    {DSN, "failed", "5.7.28", "", "", "spamdetected", false, SND},
    {DSN, "failed", "5.6.0", "554",
     "554 5.6.0 Message rejected: spam "
     "detected",
     "spamdetected", false, SND},
    {DSN, "failed", "5.7.0", "554",
     "554 5.7.0 Virus detected: "
     "Eicar-Test-Signature",
     "virusdetected", false, SND},
    {DSN, "failed", "5.7.1", "550",
     "550 5.7.1 [CS01] Message rejected "
     "due to local policy.",
     "policyviolation", false, SND},
    {DSN, "failed", "5.7.0", "552",
     "552-5.7.0 This message was blocked "
     "because its content presents a potential security issue.",
     "policyviolation", false, SND},
    {DSN, "failed", "5.6.1", "", "", "contenterror", false, SND},
    {DSN, "failed", "5.0.0", "", "Header size exceeds maximum permitted",
     "contenterror", false, SND},
    {DSN, "failed", "5.7.1", "550",
     "550-5.7.1 This message is not RFC "
     "5322 compliant because it has duplicate headers.",
     "notcompliantrfc", false, SND},
    {DSN, "failed", "5.7.1", "550",
     "550-5.7.1 Messages missing a valid "
     "Message-ID: header are not accepted.",
     "notcompliantrfc", false, SND},

    /* --- relay, TLS, security, syntax, sender -------------------- */
    {DSN, "failed", "5.7.1", "554",
     "554 5.7.1 <a@example.jp>: Relay "
     "access denied",
     "norelaying", false, SND},
    {DSN, "failed", "5.0.0", "550",
     "550 relaying denied for "
     "<a@yahoo.com>",
     "norelaying", false, SND},
    {DSN, "failed", "5.7.0", "530",
     "530 5.7.0 Must issue a STARTTLS "
     "command first.",
     "failedstarttls", false, SND},
    {DSN, "failed", "5.7.30", "", "", "failedstarttls", false, SND},
    {DSN, "failed", "5.0.0", "538", "538 Encryption required", "failedstarttls",
     false, SND},
    {DSN, "failed", "5.7.1", "", "", "securityerror", false, SND},
    {DSN, "failed", "5.7.0", "530", "530 5.7.0 Authentication required",
     "securityerror", false, SND},
    {DSN, "failed", "5.5.1", "503", "503 5.5.1 Bad sequence of commands",
     "syntaxerror", false, SND},
    {DSN, "failed", "5.5.2", "", "", "syntaxerror", false, SND},
    {DSN, "failed", "5.1.7", "", "", "rejected", false, SND},
    {DSN, "failed", "5.1.8", "553",
     "553 5.1.8 <shop@example.jp>: Sender "
     "address rejected: Domain not found",
     "rejected", false, SND},
    {DSN, "failed", "5.0.0", "550", "550 Sender verify failed", "rejected",
     false, SND},

    /* --- system side --------------------------------------------- */
    {DSN, "failed", "5.3.0", "", "", "systemerror", false, RCP},
    {DSN, "failed", "4.3.0", "421",
     "421-4.3.0 Temporary System Problem. "
     "Try again later.",
     "systemerror", false, RCP},
    {DSN, "failed", "4.3.1", "452",
     "452 4.3.1 Insufficient system "
     "resources",
     "systemfull", false, RCP},
    {DSN, "failed", "5.3.1", "", "", "systemfull", false, RCP},
    {DSN, "failed", "5.0.0", "",
     "procmail: Error while writing to "
     "/var/mail/a",
     "mailererror", false, RCP},
    {TXT, "failed", "", "",
     "Command died with status 1: "
     "\"/usr/bin/filter\"",
     "mailererror", false, RCP},

    /* --- precedence: code vs text -------------------------------- */
    /* decisive code beats a later-ranked text */
    {DSN, "failed", "5.2.2", "552", "552 5.2.2 user unknown or mailbox full",
     "mailboxfull", false, RCP},
    /* earlier-ranked text beats a later-ranked code */
    {DSN, "failed", "5.1.1", "550", "550 5.1.1 Mailbox quota exceeded",
     "mailboxfull", false, RCP},
    /* a text that is not decisive does not beat a decisive code */
    {DSN, "failed", "5.1.1", "550", "550 5.1.1 Local configuration error",
     "userunknown", true, RCP},
    /* tentative code (5.7.x) loses to any text */
    {DSN, "failed", "5.7.1", "554", "554 5.7.1 Local configuration error",
     "systemerror", false, RCP},
    /* vague status: the diagnostic's code is used */
    {DSN, "failed", "5.0.0", "",
     "host mx.example.jp said: 552 5.2.2 "
     "<a@example.jp>",
     "mailboxfull", false, RCP},
    /* vague status, nothing specific anywhere */
    {DSN, "failed", "5.0.0", "550",
     "550 Administrator has disabled "
     "something",
     "onhold", false, NON},
    {DSN, "failed", "5.0.0", "", "", "undefined", false, NON},
    {DSN, "failed", "", "", "", "undefined", false, NON},
    /* host unknown code, DNS text: a lookup failure */
    {DSN, "failed", "5.1.2", "", "Host name lookup failure", "networkerror",
     false, RCP},
    /* user unknown code, blocklist text */
    {DSN, "failed", "5.1.1", "550",
     "550 5.1.1 Sender is in my black "
     "list",
     "rejected", false, SND},
    /* RFC 5321's 450 "mailbox unavailable" is a busy mailbox; a failed
       4xx with no specific text is onhold (Sisimai v5) */
    {TXT, "failed", "", "450",
     "450 Requested mail action not taken: "
     "mailbox unavailable",
     "onhold", false, NON},
    {TXT, "failed", "", "550",
     "550 Requested mail action not taken: "
     "mailbox unavailable",
     "userunknown", true, RCP},
    {TXT, "failed", "", "550",
     "550 Requested mail action not taken: "
     "mailbox unavailable (in reply to RCPT TO command)",
     "userunknown", true, RCP},
    /* Exim: only the diagnostic carries the real code */
    {DSN, "failed", "5.0.0", "",
     "SMTP error from remote mail server after "
     "RCPT TO:<a@example.jp>: 550 5.1.1 <a@example.jp>: Recipient "
     "address rejected: User unknown",
     "userunknown", true, RCP},
    {DSN, "failed", "5.0.0", "",
     "SMTP error from remote mail server after "
     "initial connection: 554 mx.example.jp ESMTP not accepting "
     "connections",
     "blocked", false, SND},
    /* docomo reception filter reported with 5.2.0 */
    {DSN, "failed", "5.2.0", "550", "550 Unknown user a@docomo.ne.jp",
     "filtered", false, RCP},
    /* an IP address or version number is not a status code */
    {DSN, "failed", "", "",
     "Postfix 2.11.3 at 192.0.2.25 said: "
     "something odd",
     "onhold", false, NON},

    /* --- delayed, delivered, auto-reply, feedback ---------------- */
    {DSN, "delayed", "4.4.1", "",
     "connect to mx.example.jp: Connection "
     "refused",
     "expired", false, RCP},
    {DSN, "delayed", "4.2.2", "452", "452 4.2.2 Mailbox full", "mailboxfull",
     false, RCP},
    {DSN, "delayed", "4.0.0", "", "", "expired", false, RCP},
    {DSN, "delayed", "5.1.1", "550", "550 5.1.1 User unknown", "userunknown",
     false, RCP},
    {DSN, "delivered", "2.0.0", "250", "250 2.0.0 OK", "delivered", false, NON},
    {DSN, "relayed", "", "", "", "delivered", false, NON},
    {DSN, "expanded", "2.1.5", "", "", "delivered", false, NON},
    {BOUNCE_KIND_AUTOREPLY, NULL, "", "", "I am out of the office", "vacation",
     false, NON},
    {BOUNCE_KIND_FEEDBACK, NULL, "", "", "", "feedback", false, RCP},
};

static void
test_table(void)
{
	size_t i;
	char buf[1024];

	test_begin("classify_rcpt table");
	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		const struct classify_case *c = &cases[i];
		struct bounce_rcpt r;
		const char *got;

		memset(&r, 0, sizeof(r));
		r.action = (char *)c->action;
		g_strlcpy(r.status, c->status, sizeof(r.status));
		g_strlcpy(r.replycode, c->reply, sizeof(r.replycode));
		r.diagnostic = (char *)c->diag;
		classify_rcpt(c->kind, &r);
		got = classify_reason_name(r.reason);
		test_checks++;
		if (strcmp(got, c->reason) != 0 || r.hardbounce != c->hard ||
		    r.side != c->side) {
			snprintf(buf, sizeof(buf),
				 "case %zu [%s|%s|%.60s]: got "
				 "%s/%s/%s want %s/%s/%s (rule %s)",
				 i, c->status, c->reply, c->diag, got,
				 r.hardbounce ? "hard" : "soft",
				 classify_side_name(r.side), c->reason,
				 c->hard ? "hard" : "soft",
				 classify_side_name(c->side), r.rule);
			test_fail(__FILE__, __LINE__, buf);
		}
		test_assert(r.rule != NULL && r.rule[0] != '\0');
		g_free(r.rule);
	}
	test_end();
	printf("%zu classification cases\n", G_N_ELEMENTS(cases));
}

/* Reference matcher: true if text contains pattern ('*' = "followed
   somewhere later by"), by plain strstr() per segment. */
static bool
ref_match(const char *text, const char *pattern)
{
	char seg[256];
	const char *star;
	size_t n;

	for (;;) {
		star = strchr(pattern, '*');
		n = star != NULL ? (size_t)(star - pattern) : strlen(pattern);
		g_assert(n < sizeof(seg));
		memcpy(seg, pattern, n);
		seg[n] = '\0';
		if ((text = strstr(text, seg)) == NULL)
			return false;
		text += n;
		if (star == NULL)
			return true;
		pattern = star + 1;
	}
}

/* Reference table search: the rule of the first pattern of table whose
   status gate passes code and whose text occurs in text, or NULL. */
static char *
ref_find(const struct classify_pattern *table, const char *text,
	 const char *code)
{
	const struct classify_pattern *p;

	for (p = table; p->text != NULL; p++) {
		if (p->code != NULL &&
		    strncmp(code, p->code, strlen(p->code)) != 0)
			continue;
		if (ref_match(text, p->text))
			return p->tag != NULL
				   ? g_strconcat("provider:", p->tag, NULL)
				   : g_strconcat("text:", p->text, NULL);
	}
	return NULL;
}

/* True if classify's normalising leaves s as it is: no upper case, no
   white space but single spaces, no typographic quote. */
static bool
ref_normalised(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (g_ascii_isupper(s[i]) || (s[i] == ' ' && s[i + 1] == ' ') ||
		    ((unsigned char)s[i] <= ' ' && s[i] != ' ') ||
		    (unsigned char)s[i] == 0x7f ||
		    ((unsigned char)s[i] == 0xe2 &&
		     (unsigned char)s[i + 1] == 0x80))
			return false;
	}
	return s[0] != ' ' && (i == 0 || s[i - 1] != ' ');
}

/* Classifies prefix + pattern (without its '*') + suffix with a status
   no table knows, and checks the rule against the reference search:
   the index must find the first matching pattern in table order. */
static void
check_pattern_text(const char *prefix, const char *pattern, const char *suffix)
{
	char **parts = g_strsplit(pattern, "*", -1);
	char *joined = g_strjoinv("", parts);
	char *diag = g_strconcat(prefix, joined, suffix, NULL);
	char *want, buf[600];
	struct bounce_rcpt r;

	g_strfreev(parts);
	g_free(joined);
	if (!ref_normalised(diag)) {
		g_free(diag);
		return;
	}
	want = ref_find(classify_provider_patterns, diag, "5.9.9");
	if (want == NULL)
		want = ref_find(classify_text_patterns, diag, "5.9.9");
	memset(&r, 0, sizeof(r));
	r.action = (char *)"failed";
	g_strlcpy(r.status, "5.9.9", sizeof(r.status));
	r.diagnostic = diag;
	classify_rcpt(TXT, &r);
	test_checks++;
	if (want == NULL ? g_str_has_prefix(r.rule, "text:") ||
			       g_str_has_prefix(r.rule, "provider:")
			 : strcmp(r.rule, want) != 0) {
		snprintf(buf, sizeof(buf), "pattern \"%s\": rule %s, want %s",
			 pattern, r.rule, want != NULL ? want : "no text");
		test_fail(__FILE__, __LINE__, buf);
	}
	g_free(r.rule);
	g_free(want);
	g_free(diag);
}

static void
test_index(void)
{
	static const char *const prefixes[] = {"", "550 ", NULL};
	const struct classify_pattern *p;
	GString *filler = g_string_new(NULL);
	size_t i;

	test_begin("classify pattern index finds the first match");
	/* longer than the stack copy of the text */
	while (filler->len < 700)
		g_string_append(filler, "q9 zz$ ");
	for (i = 0; i < 3; i++) {
		const char *prefix =
		    prefixes[i] != NULL ? prefixes[i] : filler->str;

		for (p = classify_provider_patterns; p->text != NULL; p++) {
			check_pattern_text(prefix, p->text, "");
			check_pattern_text(prefix, p->text, " x");
		}
		for (p = classify_text_patterns; p->text != NULL; p++) {
			check_pattern_text(prefix, p->text, "");
			check_pattern_text(prefix, p->text, " x");
		}
	}
	g_string_free(filler, TRUE);
	/* freed, then built again on the next use */
	classify_shutdown();
	check_pattern_text("", "mailbox *full", "");
	test_end();
}

static void
test_rules(void)
{
	struct bounce_rcpt r;

	test_begin("classify rules and rule replacement");
	memset(&r, 0, sizeof(r));
	g_strlcpy(r.status, "5.1.1", sizeof(r.status));
	r.rule = g_strdup("old rule"); /* must be freed, not leaked */
	r.action = (char *)"failed";
	classify_rcpt(DSN, &r);
	test_assert_str(r.rule, "status:5.1.1");
	g_free(r.rule);

	memset(&r, 0, sizeof(r));
	r.action = (char *)"failed";
	g_strlcpy(r.status, "5.7.26", sizeof(r.status));
	r.diagnostic =
	    (char *)"550-5.7.26 Unauthenticated email from "
		    "example.jp is not accepted due to domain's DMARC policy";
	classify_rcpt(DSN, &r);
	test_assert_str(r.rule, "provider:gmail:5.7.26");
	g_free(r.rule);

	memset(&r, 0, sizeof(r));
	r.action = (char *)"failed";
	r.diagnostic = (char *)"550 No  such\tUSER here";
	classify_rcpt(TXT, &r);
	test_assert_str(r.rule, "text:no such user");
	g_free(r.rule);

	memset(&r, 0, sizeof(r));
	r.action = (char *)"delayed";
	g_strlcpy(r.status, "4.4.7", sizeof(r.status));
	classify_rcpt(DSN, &r);
	test_assert_str(r.rule, "action:delayed/status:4.4.7");
	test_assert(!r.hardbounce);
	g_free(r.rule);

	memset(&r, 0, sizeof(r));
	r.action = (char *)"failed";
	classify_rcpt(BOUNCE_KIND_AUTOREPLY, &r);
	test_assert_str(r.rule, "kind:autoreply");
	g_free(r.rule);

	/* a reason the parser set is kept, but gets hard/side/rule */
	memset(&r, 0, sizeof(r));
	r.action = (char *)"failed";
	r.reason = REASON_HOSTUNKNOWN;
	r.diagnostic = (char *)"mailbox full";
	classify_rcpt(TXT, &r);
	test_assert_str(classify_reason_name(r.reason), "hostunknown");
	test_assert(r.hardbounce);
	test_assert_int(r.side, BOUNCE_SIDE_RECIPIENT);
	test_assert_str(r.rule, "parser:hostunknown");
	g_free(r.rule);
	test_end();
}

static void
test_report(void)
{
	struct bounce_report *rep = report_new();
	struct bounce_rcpt *a, *b;

	test_begin("classify_report");
	rep->kind = BOUNCE_KIND_DSN;
	a = report_add_rcpt(rep);
	report_set(&a->action, "failed");
	g_strlcpy(a->status, "5.1.1", sizeof(a->status));
	b = report_add_rcpt(rep);
	report_set(&b->action, "failed");
	report_set(&b->diagnostic, "552 5.2.2 Mailbox full");
	classify_report(rep);
	test_assert_str(classify_reason_name(a->reason), "userunknown");
	test_assert_str(classify_reason_name(b->reason), "mailboxfull");
	classify_report(rep); /* twice: rules replaced, nothing leaks */
	test_assert_str(b->rule, "status:5.2.2");
	classify_report(NULL);
	report_free(&rep);
	test_end();
}

static void
test_names(void)
{
	int i;

	test_begin("classify names");
	for (i = 0; i < REASON_COUNT; i++)
		test_assert_int(classify_reason_from_name(classify_reason_name(
				    (enum bounce_reason)i)),
				i);
	test_assert_int(classify_reason_from_name("mesgtoobig"),
			REASON_EMAILTOOLARGE);
	test_assert_int(classify_reason_from_name("MailboxFull"),
			REASON_MAILBOXFULL);
	test_assert_int(classify_reason_from_name("speeding"),
			REASON_RATELIMITED);
	test_assert_int(classify_reason_from_name("nonsense"), REASON_COUNT);
	test_assert_int(classify_reason_from_name(NULL), REASON_COUNT);
	test_assert_str(classify_reason_name(REASON_COUNT), "undefined");
	test_assert_str(classify_side_name(BOUNCE_SIDE_SENDER), "sender");
	test_assert_str(classify_side_name(BOUNCE_SIDE_RECIPIENT), "recipient");
	test_assert_str(classify_side_name(BOUNCE_SIDE_NONE), "none");
	test_assert(classify_is_hard(REASON_NOTACCEPT, "5.1.10", ""));
	test_assert(classify_is_hard(REASON_NOTACCEPT, "", "556"));
	test_assert(!classify_is_hard(REASON_NOTACCEPT, "4.3.2", "421"));
	test_assert(!classify_is_hard(REASON_MAILBOXFULL, "5.2.2", "552"));
	test_assert(classify_is_hard(REASON_USERUNKNOWN, "", ""));
	test_end();
}

int
main(void)
{
	test_table();
	test_index();
	test_rules();
	test_report();
	test_names();
	classify_shutdown();
	return test_exit();
}
